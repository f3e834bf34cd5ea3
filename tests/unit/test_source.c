/*
 * test_source.c - the file sources (source.h): generic, HistData and
 * Dukascopy ticks and bars, format and kind detection, symbols from file
 * names, errors, bad lines; and the line reader under them
 * (linereader.h).
 *
 * Sample files are written into a mkdtemp() directory under $TMPDIR (or
 * /tmp) that the group teardown removes with everything in it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/linereader.h"
#include "fxpipe/source.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "fxpipe/timeframe.h"

/* ------------------------------------------------------------------------
 * Helpers
 */

#define MAX_LOG 16

static char tmp_dir[512];

struct bad_line {
    uint64_t line_no;
    fxp_reason reason;
    char detail[192];
    char path[512];
};

/* What the callbacks saw. */
struct log {
    size_t n_bad;
    struct bad_line bad[MAX_LOG];
    size_t n_notes;
    char notes[MAX_LOG][512];
};

static void on_bad(void *ud, const char *path, uint64_t line_no,
                   fxp_reason reason, const char *detail)
{
    struct log *log = ud;

    if (log->n_bad < MAX_LOG) {
        struct bad_line *b = &log->bad[log->n_bad];

        b->line_no = line_no;
        b->reason = reason;
        snprintf(b->detail, sizeof b->detail, "%s", detail);
        snprintf(b->path, sizeof b->path, "%s", path);
    }
    log->n_bad++;
}

static void on_note(void *ud, const char *msg)
{
    struct log *log = ud;

    if (log->n_notes < MAX_LOG)
        snprintf(log->notes[log->n_notes], sizeof log->notes[0], "%s", msg);
    log->n_notes++;
}

static int group_setup(void **state)
{
    const char *dir = getenv("TMPDIR");

    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "%s/fxp_test_source_XXXXXX",
             dir && *dir ? dir : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char path[1024];

    (void)state;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(tmp_dir);
}

/* Write n bytes to tmp_dir/name; the full path goes into path. */
static void write_n(char *path, size_t len, const char *name, const char *text,
                    size_t n)
{
    FILE *f;

    snprintf(path, len, "%s/%s", tmp_dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_file(char *path, size_t len, const char *name,
                       const char *text)
{
    write_n(path, len, name, text, strlen(text));
}

/* Options with the callbacks wired to log. */
static void opts_init(struct fxp_source_opts *o, struct log *log)
{
    fxp_source_opts_default(o);
    o->on_bad = on_bad;
    o->on_note = on_note;
    o->ud = log;
}

/* Read every tick in batches of 3 (so batch edges are exercised). */
static size_t read_ticks(struct fxp_source *s, struct fxp_tick *out,
                         uint64_t *pos, size_t cap)
{
    size_t n = 0, got;
    int err;

    do {
        size_t want = cap - n < 3 ? cap - n : 3;

        got = want ? fxp_source_read_ticks(s, out + n, pos + n, want, &err) : 0;
        assert_int_equal(err, FXP_OK);
        n += got;
    } while (got > 0);
    return n;
}

static size_t read_bars(struct fxp_source *s, struct fxp_bar *out,
                        uint64_t *pos, size_t cap)
{
    size_t n = 0, got;
    int err;

    do {
        size_t want = cap - n < 3 ? cap - n : 3;

        got = want ? fxp_source_read_bars(s, out + n, pos + n, want, &err) : 0;
        assert_int_equal(err, FXP_OK);
        n += got;
    } while (got > 0);
    return n;
}

static int64_t iso(const char *s)
{
    int64_t ts = 0;

    assert_int_equal(fxp_time_parse_str(s, &ts), FXP_OK);
    return ts;
}

static void assert_same_double(double got, double want)
{
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("got %.17g, want %.17g", got, want);
}

/* "<what> '<path>'" */
static void assert_desc(const struct fxp_source *s, const char *what,
                        const char *path)
{
    char want[1100];

    snprintf(want, sizeof want, "%s '%s'", what, path);
    assert_string_equal(fxp_source_describe(s), want);
}

static void assert_bar_meta(const struct fxp_bar *b, uint32_t sym)
{
    assert_int_equal(b->sym, sym);
    assert_int_equal(b->tf, FXP_TF_1M);
    assert_int_equal(b->source, FXP_SRC_HISTORICAL);
    assert_int_equal(b->n_ticks, 1);
    assert_int_equal(b->version, 0);
    assert_int_equal(b->flags, 0);
}

/* Open name (written with text) with a format and kind forced (or AUTO /
 * -1) and a symbol; returns the status, the message in errbuf. */
static int try_open(const char *name, const char *text, fxp_format format,
                    int kind, const char *symbol, struct fxp_symtab *st,
                    struct log *log, char *path, size_t pathlen, char *errbuf,
                    size_t errlen)
{
    struct fxp_source_opts o;
    struct fxp_source *s = (struct fxp_source *)1;
    int rc;

    write_file(path, pathlen, name, text);
    opts_init(&o, log);
    o.format = format;
    o.kind = kind;
    o.symbol = symbol;
    errbuf[0] = '\0';
    rc = fxp_source_open_file(path, &o, st, &s, errbuf, errlen);
    if (rc == FXP_OK)
        fxp_source_close(s);
    else
        assert_null(s);
    return rc;
}

/* ------------------------------------------------------------------------
 * Generic files
 */

static void test_source__generic_ticks_with_symbol_column(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_tick t[4];
    uint64_t pos[4];
    char path[1024], err[512];
    uint64_t done, total;

    (void)state;
    write_file(path, sizeof path, "ticks.csv",
               "symbol,ts,bid,ask,volume\n"
               "EUR/USD,1704067200000,1.10427,1.10429,2.5\n"
               "GBPUSD,2024-01-02T22:00:00Z,1.27,1.2702,\n");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_kind(s), FXP_KIND_TICKS);
    assert_desc(s, "generic ticks", path);
    assert_int_equal(read_ticks(s, t, pos, 4), 2);
    assert_int_equal(log.n_bad, 0);
    assert_int_equal(log.n_notes, 0);
    assert_int_equal(t[0].ts_ms, 1704067200000LL);
    assert_same_double(t[0].bid, 1.10427);
    assert_same_double(t[0].ask, 1.10429);
    assert_same_double(t[0].volume, 2.5);
    assert_int_equal(t[0].flags, FXP_TICK_HAS_VOLUME);
    assert_string_equal(fxp_symtab_name(st, t[0].sym), "EURUSD");
    assert_int_equal(t[1].ts_ms, iso("2024-01-02T22:00:00Z"));
    assert_int_equal(t[1].flags, 0);
    assert_string_equal(fxp_symtab_name(st, t[1].sym), "GBPUSD");
    assert_int_equal(pos[0], 2);
    assert_int_equal(pos[1], 3);
    fxp_source_progress(s, &done, &total);
    assert_true(total > 0);
    assert_int_equal(done, total);
    fxp_source_close(s);
    fxp_symtab_free(st);
}

static void test_source__generic_bars(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_bar b[4];
    uint64_t pos[4];
    char path[1024], err[512];

    (void)state;
    write_file(path, sizeof path, "bars.csv",
               "symbol,ts,open,high,low,close,volume\n"
               "EURUSD,1704067200000,1.1,1.3,1.0,1.2,42\n"
               "C:USDJPY,2024-01-02T22:01:00Z,141.1,141.3,141.0,141.2,\n");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_kind(s), FXP_KIND_BARS);
    assert_desc(s, "generic bars", path);
    assert_int_equal(read_bars(s, b, pos, 4), 2);
    assert_int_equal(log.n_bad, 0);
    assert_int_equal(b[0].ts_ms, 1704067200000LL);
    assert_same_double(b[0].open, 1.1);
    assert_same_double(b[0].high, 1.3);
    assert_same_double(b[0].low, 1.0);
    assert_same_double(b[0].close, 1.2);
    assert_same_double(b[0].volume, 42.0);
    assert_bar_meta(&b[0], 0);
    assert_int_equal(b[1].ts_ms, iso("2024-01-02T22:01:00Z"));
    assert_same_double(b[1].volume, 0.0);
    assert_bar_meta(&b[1], 1);
    assert_string_equal(fxp_symtab_name(st, 1), "USDJPY");
    assert_int_equal(pos[1], 3);
    fxp_source_close(s);
    fxp_symtab_free(st);
}

static void
test_source__generic_bars_any_column_order_and_symbol_option(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_bar b[2];
    uint64_t pos[2];
    char path[1024], err[512];

    (void)state;
    write_file(path, sizeof path, "bars2.csv",
               "Close,extra,LOW,High,Open,Timestamp\n"
               "1.2,x,1.0,1.3,1.1,1704067200000\n");
    opts_init(&o, &log);
    o.symbol = "eur/usd";
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(read_bars(s, b, pos, 2), 1);
    assert_int_equal(log.n_bad, 0);
    assert_int_equal(log.n_notes, 0);
    assert_same_double(b[0].open, 1.1);
    assert_same_double(b[0].high, 1.3);
    assert_same_double(b[0].low, 1.0);
    assert_same_double(b[0].close, 1.2);
    assert_bar_meta(&b[0], 0);
    assert_string_equal(fxp_symtab_name(st, 0), "EURUSD");
    fxp_source_close(s);
    fxp_symtab_free(st);
}

/* ------------------------------------------------------------------------
 * HistData
 */

static void test_source__histdata_m1_bars_are_utc_minus_5(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_bar b[4];
    uint64_t pos[4];
    char path[1024], err[512], note[1200];

    (void)state;
    write_file(path, sizeof path, "DAT_ASCII_EURUSD_M1_2024.csv",
               "20240102 170000;1.104270;1.104290;1.104260;1.104280;0\n"
               "20240102 170100;1.104280;1.104300;1.104200;1.104250;7\n"
               "20240701 120000;1.07;1.08;1.06;1.075;0\n");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_kind(s), FXP_KIND_BARS);
    assert_desc(s, "histdata M1 bars", path);
    assert_int_equal(log.n_notes, 1);
    snprintf(note, sizeof note, "symbol 'EURUSD' taken from the file name '%s'",
             path);
    assert_string_equal(log.notes[0], note);
    assert_int_equal(read_bars(s, b, pos, 4), 3);
    assert_int_equal(log.n_bad, 0);
    assert_int_equal(b[0].ts_ms, iso("2024-01-02T22:00:00Z"));
    assert_same_double(b[0].open, 1.104270);
    assert_same_double(b[0].high, 1.104290);
    assert_same_double(b[0].low, 1.104260);
    assert_same_double(b[0].close, 1.104280);
    assert_same_double(b[0].volume, 0.0);
    assert_bar_meta(&b[0], 0);
    assert_string_equal(fxp_symtab_name(st, 0), "EURUSD");
    assert_int_equal(b[1].ts_ms, iso("2024-01-02T22:01:00Z"));
    assert_same_double(b[1].volume, 7.0);
    /* No daylight saving: July is UTC-5 too (New York would be UTC-4). */
    assert_int_equal(b[2].ts_ms, iso("2024-07-01T17:00:00Z"));
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[2], 3);
    fxp_source_close(s);
    fxp_symtab_free(st);
}

static void test_source__histdata_ticks_ignore_volume(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_tick t[4];
    uint64_t pos[4];
    char path[1024], err[512];

    (void)state;
    write_file(path, sizeof path, "DAT_ASCII_EURUSD_T_202401.csv",
               "20240102 170000123,1.10427,1.10429,0\n"
               "20240102 235959999,1.1043,1.10433,5\n");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_kind(s), FXP_KIND_TICKS);
    assert_desc(s, "histdata ticks", path);
    assert_int_equal(read_ticks(s, t, pos, 4), 2);
    assert_int_equal(log.n_bad, 0);
    assert_int_equal(t[0].ts_ms, iso("2024-01-02T22:00:00.123Z"));
    assert_same_double(t[0].bid, 1.10427);
    assert_same_double(t[0].ask, 1.10429);
    assert_int_equal(t[0].flags, 0);
    assert_same_double(t[0].volume, 0.0);
    assert_int_equal(t[1].ts_ms, iso("2024-01-03T04:59:59.999Z"));
    assert_int_equal(t[1].flags, 0);
    assert_same_double(t[1].volume, 0.0);
    assert_string_equal(fxp_symtab_name(st, t[0].sym), "EURUSD");
    fxp_source_close(s);
    fxp_symtab_free(st);
}

/* ------------------------------------------------------------------------
 * Dukascopy
 */

static void test_source__dukascopy_ticks_ask_first_and_volume_sum(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_tick t[4];
    uint64_t pos[4];
    char path[1024], err[512];

    (void)state;
    write_file(path, sizeof path, "xauusd-tick-2024-01-01-2024-01-02.csv",
               "timestamp,askPrice,bidPrice,askVolume,bidVolume\n"
               "1704067200000,2063.55,2062.91,0.12,0.3\n"
               "2024-01-01T00:00:01.500Z,2063.6,2063.0,,\n"
               "1704067202000,2063.7,2063.1,1.5,\n");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_kind(s), FXP_KIND_TICKS);
    assert_desc(s, "dukascopy ticks", path);
    assert_int_equal(log.n_notes, 1);
    assert_non_null(strstr(log.notes[0], "symbol 'XAUUSD' taken from"));
    assert_int_equal(read_ticks(s, t, pos, 4), 3);
    assert_int_equal(log.n_bad, 0);
    assert_int_equal(t[0].ts_ms, 1704067200000LL);
    assert_same_double(t[0].ask, 2063.55);
    assert_same_double(t[0].bid, 2062.91);
    assert_same_double(t[0].volume, 0.12 + 0.3);
    assert_int_equal(t[0].flags, FXP_TICK_HAS_VOLUME);
    assert_int_equal(t[1].ts_ms, 1704067201500LL);
    assert_int_equal(t[1].flags, 0);
    assert_same_double(t[1].volume, 0.0);
    assert_same_double(t[2].volume, 1.5);
    assert_int_equal(t[2].flags, FXP_TICK_HAS_VOLUME);
    assert_string_equal(fxp_symtab_name(st, t[0].sym), "XAUUSD");
    assert_int_equal(pos[0], 2);
    fxp_source_close(s);

    /* Without volume columns there is no volume. */
    write_file(path, sizeof path, "xauusd-tick-2024-01-02-2024-01-03.csv",
               "timestamp,askPrice,bidPrice\n"
               "1704153600000,2070.5,2070.1\n");
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(read_ticks(s, t, pos, 4), 1);
    assert_same_double(t[0].ask, 2070.5);
    assert_same_double(t[0].bid, 2070.1);
    assert_int_equal(t[0].flags, 0);
    fxp_source_close(s);
    fxp_symtab_free(st);
}

static void test_source__dukascopy_bars(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_bar b[4];
    uint64_t pos[4];
    char path[1024], err[512];

    (void)state;
    write_file(path, sizeof path, "eurusd-m1-bid-2024-01-01-2024-01-31.csv",
               "timestamp,open,high,low,close,volume\n"
               "1704067200000,1.1,1.3,1.0,1.2,12.5\n"
               "2024-01-01T00:01:00Z,1.2,1.4,1.1,1.3,0\n");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_kind(s), FXP_KIND_BARS);
    assert_desc(s, "dukascopy bars", path);
    assert_int_equal(read_bars(s, b, pos, 4), 2);
    assert_int_equal(log.n_bad, 0);
    assert_int_equal(b[0].ts_ms, 1704067200000LL);
    assert_same_double(b[0].open, 1.1);
    assert_same_double(b[0].high, 1.3);
    assert_same_double(b[0].low, 1.0);
    assert_same_double(b[0].close, 1.2);
    assert_same_double(b[0].volume, 12.5);
    assert_bar_meta(&b[0], 0);
    assert_int_equal(b[1].ts_ms, 1704067260000LL);
    assert_string_equal(fxp_symtab_name(st, 0), "EURUSD");
    fxp_source_close(s);
    fxp_symtab_free(st);
}

/* ------------------------------------------------------------------------
 * Detection
 */

static void test_source__auto_detects_format_and_kind(void **state)
{
    static const struct {
        const char *text;
        const char *what; /* describe() before the path */
    } cases[] = {
        {"symbol,ts,bid,ask\nEURUSD,1,1.1,1.2\n", "generic ticks"},
        {"symbol,ts,bid,ask,volume\n", "generic ticks"},
        {"ts,bid,ask\n1,1.1,1.2\n", "generic ticks"},
        {"timestamp,bidPrice,askPrice,volume\n1,1.1,1.2,3\n", "generic ticks"},
        {"symbol,ts,open,high,low,close,volume\n", "generic bars"},
        {"ts,open,high,low,close\n1,1,1,1,1\n", "generic bars"},
        {"\xEF\xBB\xBF\n  \nsymbol,ts,bid,ask\n", "generic ticks"},
        {"20240102 170000;1.1;1.2;1.0;1.1;0\n", "histdata M1 bars"},
        {"20240102 170000123,1.1,1.2,0\n", "histdata ticks"},
        {"\r\n20240102 170000123,1.1,1.2,0\r\n", "histdata ticks"},
        {"timestamp,askPrice,bidPrice,askVolume,bidVolume\n",
         "dukascopy ticks"},
        {"timestamp,askPrice,bidPrice\n", "dukascopy ticks"},
        {"Timestamp,Open,High,Low,Close,Volume\n", "dukascopy bars"},
        {"timestamp,open,high,low,close\n", "dukascopy bars"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fxp_symtab *st = fxp_symtab_new(8);
        struct fxp_source_opts o;
        struct fxp_source *s;
        struct log log = {0};
        char path[1024], err[512] = "", want[1100];
        int rc;

        write_file(path, sizeof path, "detect.csv", cases[i].text);
        opts_init(&o, &log);
        o.symbol = "EURUSD";
        if (strncmp(cases[i].text, "symbol", 6) == 0 ||
            strstr(cases[i].text, "\nsymbol") != NULL)
            o.symbol = NULL;
        rc = fxp_source_open_file(path, &o, st, &s, err, sizeof err);
        if (rc != FXP_OK)
            fail_msg("case %zu: %d %s", i, rc, err);
        snprintf(want, sizeof want, "%s '%s'", cases[i].what, path);
        if (strcmp(fxp_source_describe(s), want) != 0)
            fail_msg("case %zu: '%s'", i, fxp_source_describe(s));
        assert_int_equal(log.n_bad, 0);
        fxp_source_close(s);
        fxp_symtab_free(st);
    }
}

static void
test_source__forced_format_or_kind_that_fits_is_accepted(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct log log = {0};
    char path[1024], err[512];

    (void)state;
    /* The generic reader reads a Dukascopy header too. */
    assert_int_equal(try_open("f1.csv", "timestamp,askPrice,bidPrice\n",
                              FXP_FMT_GENERIC, -1, "EURUSD", st, &log, path,
                              sizeof path, err, sizeof err),
                     FXP_OK);
    assert_int_equal(try_open("f2.csv", "20240102 170000;1;1;1;1;0\n",
                              FXP_FMT_HISTDATA, FXP_KIND_BARS, "EURUSD", st,
                              &log, path, sizeof path, err, sizeof err),
                     FXP_OK);
    /* A header with tick and bar columns needs the kind. */
    assert_int_equal(try_open("f3.csv",
                              "symbol,ts,bid,ask,open,high,low,close\n",
                              FXP_FMT_AUTO, -1, NULL, st, &log, path,
                              sizeof path, err, sizeof err),
                     FXP_EPARSE);
    assert_non_null(strstr(err, "has both tick (bid, ask) and bar"));
    assert_int_equal(try_open("f3.csv",
                              "symbol,ts,bid,ask,open,high,low,close\n",
                              FXP_FMT_AUTO, FXP_KIND_BARS, NULL, st, &log, path,
                              sizeof path, err, sizeof err),
                     FXP_OK);
    /* Forced both, and a bad first line: the reader reports it. */
    log.n_bad = 0;
    {
        struct fxp_source_opts o;
        struct fxp_source *s;
        struct fxp_bar b[2];
        uint64_t pos[2];

        write_file(path, sizeof path, "f4.csv",
                   "garbage\n20240102 170000;1;1;1;1;0\n");
        opts_init(&o, &log);
        o.format = FXP_FMT_HISTDATA;
        o.kind = FXP_KIND_BARS;
        o.symbol = "EURUSD";
        assert_int_equal(
            fxp_source_open_file(path, &o, st, &s, err, sizeof err), FXP_OK);
        assert_int_equal(read_bars(s, b, pos, 2), 1);
        assert_int_equal(pos[0], 2);
        assert_int_equal(log.n_bad, 1);
        assert_int_equal(log.bad[0].line_no, 1);
        fxp_source_close(s);
    }
    fxp_symtab_free(st);
}

static void test_source__forced_wrong_kind_or_format_is_an_error(void **state)
{
    static const struct {
        const char *text;
        fxp_format format;
        int kind;
        const char *want; /* after "'<path>' " */
    } cases[] = {
        {"20240102 170000;1;1;1;1;0\n", FXP_FMT_AUTO, FXP_KIND_TICKS,
         "looks like histdata M1 bars, not ticks"},
        {"20240102 170000123,1,1,0\n", FXP_FMT_AUTO, FXP_KIND_BARS,
         "looks like histdata ticks, not bars"},
        {"20240102 170000123,1,1,0\n", FXP_FMT_DUKASCOPY, -1,
         "looks like histdata ticks, not dukascopy"},
        {"symbol,ts,bid,ask\n", FXP_FMT_HISTDATA, -1,
         "looks like generic ticks, not histdata"},
        {"symbol,ts,open,high,low,close,volume\n", FXP_FMT_DUKASCOPY, -1,
         "looks like generic bars, not dukascopy"},
        {"timestamp,open,high,low,close\n", FXP_FMT_AUTO, FXP_KIND_TICKS,
         "looks like dukascopy bars, not ticks"},
        {"timestamp,askPrice,bidPrice\n", FXP_FMT_HISTDATA, -1,
         "looks like dukascopy ticks, not histdata"},
        {"20240102 170000123,1,1,0\n", FXP_FMT_GENERIC, -1,
         "looks like histdata ticks, not generic"},
        {"a;b;c\n", FXP_FMT_HISTDATA, -1,
         "is not histdata: expected 'YYYYMMDD HHMMSS;open;high;low;close;"
         "volume' or 'YYYYMMDD HHMMSSmmm,bid,ask,volume', found 'a;b;c'"},
        {"x,y\n", FXP_FMT_DUKASCOPY, FXP_KIND_TICKS,
         "is not dukascopy: expected the header 'timestamp,askPrice,"
         "bidPrice[,askVolume,bidVolume]' or 'timestamp,open,high,low,"
         "close[,volume]', found 'x,y'"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fxp_symtab *st = fxp_symtab_new(8);
        struct log log = {0};
        char path[1024], err[512], want[1500];
        int rc =
            try_open("wrong.csv", cases[i].text, cases[i].format, cases[i].kind,
                     "EURUSD", st, &log, path, sizeof path, err, sizeof err);

        snprintf(want, sizeof want, "'%s' %s", path, cases[i].want);
        if (rc != FXP_EPARSE || strcmp(err, want) != 0)
            fail_msg("case %zu: %d '%s'", i, rc, err);
        fxp_symtab_free(st);
    }
}

static void test_source__unknown_content_is_an_error(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct log log = {0};
    char path[1024], err[512], want[1500];

    (void)state;
    assert_int_equal(try_open("unknown.csv", "EURUSD,1,1.1,1.2\n", FXP_FMT_AUTO,
                              -1, "EURUSD", st, &log, path, sizeof path, err,
                              sizeof err),
                     FXP_EPARSE);
    snprintf(want, sizeof want,
             "unknown format of '%s': first line 'EURUSD,1,1.1,1.2' is "
             "neither a header naming ts and bid,ask or open,high,low,close "
             "nor a HistData line",
             path);
    assert_string_equal(err, want);
    /* A generic header without ask is not a format either. */
    assert_int_equal(try_open("unknown.csv", "symbol,ts,bid\n", FXP_FMT_AUTO,
                              -1, NULL, st, &log, path, sizeof path, err,
                              sizeof err),
                     FXP_EPARSE);
    assert_non_null(strstr(err, "unknown format of"));
    fxp_symtab_free(st);
}

/* ------------------------------------------------------------------------
 * Symbols
 */

static void test_source__symbol_from_file_names(void **state)
{
    static const char bars[] = "20240102 170000;1;1;1;1;0\n";
    static const char ticks[] = "timestamp,askPrice,bidPrice\n";
    static const struct {
        const char *name;
        const char *text;
        const char *sym; /* NULL: none */
    } cases[] = {
        {"DAT_ASCII_EURUSD_M1_2024.csv", bars, "EURUSD"},
        {"DAT_ASCII_GBPJPY_M1_202401.csv", bars, "GBPJPY"},
        {"dat_ascii_xauusd_m1_2024.csv", bars, "XAUUSD"},
        {"HISTDATA_COM_ASCII_USDJPY_M1_2024.csv", bars, "USDJPY"},
        {"DAT_ASCII_EURUSD_T_202401.csv", bars, "EURUSD"},
        {"eurusd-m1-bid-2024-01-01-2024-01-31.csv", bars, "EURUSD"},
        {"usdchf-m1-ask-2024-01-01-2024-01-31.csv", bars, "USDCHF"},
        {"xauusd-tick-2024-01-01-2024-01-02.csv", ticks, "XAUUSD"},
        {"btcusd-tick-2023-02-20T12-2023-02-20T13.csv", ticks, "BTCUSD"},
        {"EURUSD.csv", bars, NULL},
        {"eurusd_m1_2024.csv", bars, NULL},
        {"DAT_MT_EURUSD_M1_2024.csv", bars, NULL},
        {"DAT_ASCII_EU_M1_2024.csv", bars, NULL},
        {"report-m1-final-2024.csv", bars, NULL},
        {"eurusd-tick-latest.csv", ticks, NULL},
        {"data.csv", bars, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fxp_symtab *st = fxp_symtab_new(8);
        struct log log = {0};
        char path[1024], err[512], want[1500];
        int rc = try_open(cases[i].name, cases[i].text, FXP_FMT_AUTO, -1, NULL,
                          st, &log, path, sizeof path, err, sizeof err);

        if (cases[i].sym == NULL) {
            snprintf(want, sizeof want,
                     "no symbol for '%s': the file has no symbol column and "
                     "its name names none; use --symbol",
                     path);
            if (rc != FXP_EINVAL || strcmp(err, want) != 0)
                fail_msg("case %zu: %d '%s'", i, rc, err);
            assert_int_equal(log.n_notes, 0);
        } else {
            if (rc != FXP_OK)
                fail_msg("case %zu: %d '%s'", i, rc, err);
            snprintf(want, sizeof want,
                     "symbol '%s' taken from the file name '%s'", cases[i].sym,
                     path);
            assert_int_equal(log.n_notes, 1);
            assert_string_equal(log.notes[0], want);
            assert_string_equal(fxp_symtab_name(st, 0), cases[i].sym);
        }
        fxp_symtab_free(st);
    }
}

static void test_source__symbol_option_wins_over_the_name_silently(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct log log = {0};
    char path[1024], err[512];

    (void)state;
    assert_int_equal(try_open("DAT_ASCII_EURUSD_M1_2024.csv",
                              "20240102 170000;1;1;1;1;0\n", FXP_FMT_AUTO, -1,
                              "GBPUSD", st, &log, path, sizeof path, err,
                              sizeof err),
                     FXP_OK);
    assert_int_equal(log.n_notes, 0);
    assert_string_equal(fxp_symtab_name(st, 0), "GBPUSD");
    /* A bad --symbol is refused. */
    assert_int_equal(try_open("DAT_ASCII_EURUSD_M1_2024.csv",
                              "20240102 170000;1;1;1;1;0\n", FXP_FMT_AUTO, -1,
                              "EU", st, &log, path, sizeof path, err,
                              sizeof err),
                     FXP_EINVAL);
    assert_string_equal(err, "unknown symbol format 'EU'");
    fxp_symtab_free(st);
}

static void test_source__missing_symbol_is_an_error(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct log log = {0};
    char path[1024], err[512], want[1500];

    (void)state;
    assert_int_equal(try_open("x.csv", "ts,bid,ask\n1,1.1,1.2\n", FXP_FMT_AUTO,
                              -1, NULL, st, &log, path, sizeof path, err,
                              sizeof err),
                     FXP_EINVAL);
    snprintf(want, sizeof want,
             "no symbol for '%s': the file has no symbol column and its name "
             "names none; use --symbol",
             path);
    assert_string_equal(err, want);
    assert_int_equal(fxp_symtab_count(st), 0);
    fxp_symtab_free(st);
}

static void
test_source__symbol_option_conflicts_with_symbol_column(void **state)
{
    static const char *const texts[] = {
        "symbol,ts,bid,ask\nEURUSD,1,1.1,1.2\n",
        "pair,ts,open,high,low,close,volume\n",
    };

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct fxp_symtab *st = fxp_symtab_new(8);
        struct log log = {0};
        char path[1024], err[512], want[1500];

        assert_int_equal(try_open("DAT_ASCII_EURUSD_M1_2024.csv", texts[i],
                                  FXP_FMT_AUTO, -1, "EURUSD", st, &log, path,
                                  sizeof path, err, sizeof err),
                         FXP_EINVAL);
        snprintf(want, sizeof want,
                 "--symbol conflicts with the symbol column of '%s'", path);
        assert_string_equal(err, want);
        fxp_symtab_free(st);
    }
}

static void test_source__dukascopy_bars_not_1m_by_name_are_refused(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct log log = {0};
    char path[1024], err[512], want[1500];

    (void)state;
    assert_int_equal(try_open("eurusd-h1-bid-2024-01-01-2024-01-31.csv",
                              "timestamp,open,high,low,close,volume\n",
                              FXP_FMT_AUTO, -1, NULL, st, &log, path,
                              sizeof path, err, sizeof err),
                     FXP_EPARSE);
    snprintf(want, sizeof want,
             "'%s' holds h1 bars (says its name); only 1-minute bars can be "
             "read",
             path);
    assert_string_equal(err, want);
    fxp_symtab_free(st);
}

/* ------------------------------------------------------------------------
 * Bad lines, line ends, buffer, empty files
 */

static void
test_source__histdata_bad_lines_are_reported_and_skipped(void **state)
{
    static const char text[] =
        "20240102 170000;1.1;1.3;1.0;1.2;0\n" /* 1 good */
        "20240102 170100;1.1;abc;1.0;1.2;0\n" /* 2 high */
        "20240102 170200;1.1;1.3;1.0\n"       /* 3 fields */
        "\n"                                  /* 4 blank */
        "20241301 170300;1.1;1.3;1.0;1.2;0\n" /* 5 month 13 */
        "20240230 170300;1.1;1.3;1.0;1.2;0\n" /* 6 Feb 30 */
        "2024010 170400;1.1;1.3;1.0;1.2;0\n"  /* 7 short date */
        "20240102 170500;1.1;1.3;1.0;1.2;x\n" /* 8 volume */
        "20240102 170600;nan;1.0;1.3;1.2;0\n" /* 9 good: validator's job */
        "20240102 170700;1.1;1.3;1.0;1.2;0";  /* 10 good, no newline */
    static const struct {
        uint64_t line;
        const char *detail;
    } want[] = {
        {2, "column 3 'high': not a number 'abc'"},
        {3, "expected 6 fields, got 4"},
        {5, "column 1 'time': timestamp out of range '20241301 170300'"},
        {6, "column 1 'time': timestamp out of range '20240230 170300'"},
        {7, "column 1 'time': bad timestamp '2024010 170400'"},
        {8, "column 6 'volume': not a number 'x'"},
    };
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_bar b[8];
    uint64_t pos[8];
    char path[1024], err[512];

    (void)state;
    write_file(path, sizeof path, "DAT_ASCII_EURUSD_M1_2024.csv", text);
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(read_bars(s, b, pos, 8), 3);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 9);
    assert_int_equal(pos[2], 10);
    assert_true(isnan(b[1].open));
    assert_int_equal(b[2].ts_ms, iso("2024-01-02T22:07:00Z"));
    assert_int_equal(log.n_bad, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < log.n_bad; i++) {
        assert_int_equal(log.bad[i].line_no, want[i].line);
        assert_int_equal(log.bad[i].reason, FXP_R_PARSE);
        assert_string_equal(log.bad[i].detail, want[i].detail);
        assert_string_equal(log.bad[i].path, path);
    }
    fxp_source_close(s);
    fxp_symtab_free(st);
}

static void test_source__dukascopy_and_generic_bad_lines(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_tick t[8];
    struct fxp_bar b[8];
    uint64_t pos[8];
    char path[1024], err[512];

    (void)state;
    write_file(path, sizeof path, "xauusd-tick-2024-01-01-2024-01-02.csv",
               "timestamp,askPrice,bidPrice,askVolume,bidVolume\n" /* 1 */
               "1704067200000,2063.5,2062.9,1,2\n"                 /* 2 */
               "yesterday,2063.5,2062.9,1,2\n"                     /* 3 */
               "1704067200000,2063.5,-,1,2\n"                      /* 4 */
               "1704067200000,2063.5,2062.9,1,2x\n"                /* 5 */
               "1704067200000,2063.5,2062.9\n"                     /* 6 */
               "1704067201000,2063.6,2063.0,1,2\n");               /* 7 */
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(read_ticks(s, t, pos, 8), 2);
    assert_int_equal(pos[0], 2);
    assert_int_equal(pos[1], 7);
    assert_int_equal(log.n_bad, 4);
    assert_string_equal(log.bad[0].detail,
                        "column 1 'timestamp': bad timestamp 'yesterday'");
    assert_int_equal(log.bad[0].line_no, 3);
    assert_string_equal(log.bad[1].detail,
                        "column 3 'bidPrice': not a number '-'");
    assert_string_equal(log.bad[2].detail,
                        "column 5 'bidVolume': not a number '2x'");
    assert_string_equal(log.bad[3].detail, "expected 5 fields, got 3");
    assert_int_equal(log.bad[3].line_no, 6);
    fxp_source_close(s);

    memset(&log, 0, sizeof log);
    write_file(path, sizeof path, "bars.csv",
               "symbol,ts,open,high,low,close,volume\n"   /* 1 */
               "EU,1704067200000,1.1,1.3,1.0,1.2,1\n"     /* 2 */
               "EURUSD,1704067200000,1.1,1.3,low,1.2,1\n" /* 3 */
               "EURUSD,2024-02-30T00:00:00Z,1,1,1,1,1\n"  /* 4 */
               "EURUSD,1704067260000,1.1,1.3,1.0,1.2,1\n" /* 5 */
               "EURUSD,1704067320000,1.1,1.3,1.0,1.2\n"); /* 6 */
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(read_bars(s, b, pos, 8), 1);
    assert_int_equal(pos[0], 5);
    assert_int_equal(log.n_bad, 4);
    assert_int_equal(log.bad[0].reason, FXP_R_SYMBOL);
    assert_string_equal(log.bad[0].detail,
                        "column 1 'symbol': unknown symbol format 'EU'");
    assert_string_equal(log.bad[1].detail,
                        "column 5 'low': not a number 'low'");
    assert_string_equal(
        log.bad[2].detail,
        "column 2 'ts': timestamp out of range '2024-02-30T00:00:00Z'");
    assert_string_equal(log.bad[3].detail, "expected 7 fields, got 6");
    assert_int_equal(log.bad[3].line_no, 6);
    fxp_source_close(s);
    fxp_symtab_free(st);
}

static void test_source__crlf_and_bom(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_tick t[4];
    struct fxp_bar b[4];
    uint64_t pos[4];
    char path[1024], err[512];

    (void)state;
    write_file(path, sizeof path, "DAT_ASCII_EURUSD_T_202401.csv",
               "\xEF\xBB\xBF"
               "20240102 170000123,1.10427,1.10429,0\r\n"
               "\r\n"
               "20240102 170000456,1.10428,1.1043,0\r\n");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(read_ticks(s, t, pos, 4), 2);
    assert_int_equal(log.n_bad, 0);
    assert_int_equal(t[0].ts_ms, iso("2024-01-02T22:00:00.123Z"));
    assert_int_equal(t[1].ts_ms, iso("2024-01-02T22:00:00.456Z"));
    assert_same_double(t[1].ask, 1.1043);
    assert_int_equal(pos[1], 3);
    fxp_source_close(s);

    write_file(path, sizeof path, "eurusd-m1-bid-2024-01-01-2024-01-31.csv",
               "\xEF\xBB\xBFtimestamp,open,high,low,close\r\n"
               "1704067200000,1.1,1.3,1.0,1.2\r\n");
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(read_bars(s, b, pos, 4), 1);
    assert_int_equal(log.n_bad, 0);
    assert_same_double(b[0].close, 1.2);
    assert_same_double(b[0].volume, 0.0);
    fxp_source_close(s);
    fxp_symtab_free(st);
}

/* A HistData M1 file bigger than the 1 MiB read buffer, so lines cross
 * its boundary; one line longer than the buffer is reported and
 * skipped. */
static void test_source__lines_cross_the_buffer_and_overlong_lines(void **state)
{
    enum { N = 30000, LONG_AT = 20000 };
    const size_t buf = FXP_LINEREADER_DEFAULT_BUF;
    size_t cap = (size_t)N * 64 + buf + 64, len = 0;
    char *text = malloc(cap);
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_bar *b = calloc(N, sizeof *b);
    uint64_t *pos = calloc(N, sizeof *pos);
    uint64_t done, total, half_done;
    char path[1024], err[512], want[128];
    int64_t base = iso("2024-01-01T22:00:00Z");
    size_t n = 0, got;
    int e;

    (void)state;
    assert_non_null(text);
    assert_non_null(b);
    assert_non_null(pos);
    for (int i = 0; i < N; i++) {
        struct fxp_civil c;

        if (i + 1 == LONG_AT) { /* line LONG_AT is too long */
            memset(text + len, '9', buf + 10);
            len += buf + 10;
            text[len++] = '\n';
            continue;
        }
        fxp_time_to_civil(
            base + (int64_t)i * FXP_MS_PER_MIN - 5 * FXP_MS_PER_HOUR, &c);
        len += (size_t)snprintf(text + len, cap - len,
                                "%04d%02d%02d %02d%02d%02d;1.%05d;1.2;1.0;"
                                "1.1;%d\n",
                                c.year, c.month, c.day, c.hour, c.min, c.sec,
                                i % 100000, i);
    }
    write_n(path, sizeof path, "DAT_ASCII_EURUSD_M1_2024.csv", text, len);
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    fxp_source_progress(s, &done, &total);
    assert_int_equal(total, len);
    assert_true(done < total);
    while ((got = fxp_source_read_bars(s, b + n, pos + n, 1000, &e)) > 0) {
        n += got;
        if (n == 1000) {
            fxp_source_progress(s, &half_done, &total);
            assert_true(half_done > done && half_done < total);
        }
    }
    assert_int_equal(e, FXP_OK);
    assert_int_equal(n, N - 1);
    for (size_t i = 0, line = 1; i < n; i++, line++) {
        if (line == LONG_AT)
            line++;
        assert_int_equal(pos[i], line);
        assert_int_equal(b[i].ts_ms, base + (int64_t)(line - 1) * 60000);
        assert_same_double(b[i].volume, (double)(line - 1));
    }
    assert_int_equal(log.n_bad, 1);
    assert_int_equal(log.bad[0].line_no, LONG_AT);
    snprintf(want, sizeof want, "line longer than the %zu-byte buffer", buf);
    assert_string_equal(log.bad[0].detail, want);
    fxp_source_progress(s, &done, &total);
    assert_int_equal(done, total);
    fxp_source_close(s);
    fxp_symtab_free(st);
    free(pos);
    free(b);
    free(text);
}

static void test_source__empty_files(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_bar b[2];
    struct fxp_tick t[2];
    uint64_t pos[2];
    char path[1024], err[512], want[1500];
    int e;

    (void)state;
    /* The name tells the kind. */
    write_file(path, sizeof path, "DAT_ASCII_EURUSD_M1_2024.csv", "");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_kind(s), FXP_KIND_BARS);
    assert_int_equal(fxp_source_read_bars(s, b, pos, 2, &e), 0);
    assert_int_equal(e, FXP_OK);
    assert_int_equal(log.n_notes, 1);
    snprintf(want, sizeof want, "'%s' is empty", path);
    assert_string_equal(log.notes[0], want);
    fxp_source_close(s);

    /* Blank lines only, no hint: the kind must be given. */
    write_file(path, sizeof path, "empty.csv", "\n\r\n  \n");
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_EPARSE);
    snprintf(want, sizeof want,
             "'%s' is empty: cannot tell ticks from bars; use --kind", path);
    assert_string_equal(err, want);
    o.kind = FXP_KIND_TICKS;
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_kind(s), FXP_KIND_TICKS);
    assert_int_equal(fxp_source_read_ticks(s, t, pos, 2, &e), 0);
    assert_int_equal(e, FXP_OK);
    fxp_source_close(s);

    /* A header and nothing else is not empty, and yields nothing. */
    o.kind = -1;
    write_file(path, sizeof path, "hdr.csv", "symbol,ts,bid,ask\n");
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_read_ticks(s, t, pos, 2, &e), 0);
    assert_int_equal(e, FXP_OK);
    fxp_source_close(s);
    fxp_symtab_free(st);
}

static void test_source__standard_input_is_read_once(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source_opts o;
    struct fxp_source *s;
    struct log log = {0};
    struct fxp_tick t[4];
    uint64_t pos[4], done, total;
    char path[1024], err[512];
    int saved = dup(STDIN_FILENO), fd;

    (void)state;
    assert_true(saved >= 0);
    write_file(path, sizeof path, "stdin.csv",
               "timestamp,askPrice,bidPrice\n"
               "1704067200000,1.2,1.1\n"
               "1704067201000,1.3,1.2\n");
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    opts_init(&o, &log);
    o.symbol = "EURUSD";
    assert_int_equal(fxp_source_open_file("-", &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_string_equal(fxp_source_describe(s), "dukascopy ticks '<stdin>'");
    assert_int_equal(read_ticks(s, t, pos, 4), 2);
    assert_int_equal(pos[0], 2);
    assert_same_double(t[0].ask, 1.2);
    assert_same_double(t[1].bid, 1.2);
    fxp_source_progress(s, &done, &total);
    assert_int_equal(total, 0);
    fxp_source_close(s);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    fxp_symtab_free(st);
}

static void test_source__open_errors_and_wrong_kind(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_source *s = (struct fxp_source *)1;
    struct fxp_bar b[1];
    struct log log = {0};
    struct fxp_source_opts o;
    char path[1024], err[512];
    int e;

    (void)state;
    assert_int_equal(fxp_source_open_file("/nonexistent/fxp/x.csv", NULL, st,
                                          &s, err, sizeof err),
                     FXP_ENOENT);
    assert_null(s);
    assert_string_equal(err, "cannot open '/nonexistent/fxp/x.csv': No such "
                             "file or directory");
    assert_int_equal(
        fxp_source_open_file(tmp_dir, NULL, st, &s, err, sizeof err), FXP_EIO);
    assert_non_null(strstr(err, "cannot read '"));
    write_file(path, sizeof path, "DAT_ASCII_EURUSD_T_202401.csv",
               "20240102 170000123,1.1,1.2,0\n");
    opts_init(&o, &log);
    assert_int_equal(fxp_source_open_file(path, &o, st, &s, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_source_read_bars(s, b, NULL, 1, &e), 0);
    assert_int_equal(e, FXP_EINVAL);
    fxp_source_close(s);
    fxp_source_close(NULL);
    fxp_symtab_free(st);
}

/* ------------------------------------------------------------------------
 * The line reader
 */

static void test_source__linereader_unread_and_line_ends(void **state)
{
    static const char text[] = "\xEF\xBB\xBF"
                               "a\r\n"
                               "b\r\r\n"
                               "\n"
                               "last";
    struct fxp_linereader *lr;
    struct fxp_line ln;
    uint64_t done, total;

    (void)state;
    assert_int_equal(
        fxp_linereader_open_mem(text, sizeof text - 1, "m", 16, &lr), FXP_OK);
    assert_string_equal(fxp_linereader_name(lr), "m");
    assert_int_equal(fxp_linereader_buf_size(lr), 16);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_OK);
    assert_int_equal(ln.no, 1);
    assert_int_equal(ln.len, 1);
    assert_memory_equal(ln.p, "a", 1);
    fxp_linereader_unread(lr);
    assert_int_equal(fxp_linereader_lines(lr), 0);
    fxp_linereader_progress(lr, &done, &total);
    assert_int_equal(done, 0);
    assert_int_equal(total, sizeof text - 1);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_OK);
    assert_int_equal(ln.no, 1);
    assert_int_equal(ln.len, 1);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_OK);
    assert_int_equal(ln.no, 2);
    assert_int_equal(ln.len, 2); /* one '\r' only is a line end */
    assert_memory_equal(ln.p, "b\r", 2);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_OK);
    assert_int_equal(ln.len, 0);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_OK);
    assert_int_equal(ln.no, 4);
    assert_int_equal(ln.len, 4);
    assert_memory_equal(ln.p, "last", 4);
    fxp_linereader_unread(lr); /* also works for a last line */
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_OK);
    assert_int_equal(ln.no, 4);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_EOF);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_EOF);
    fxp_linereader_progress(lr, &done, &total);
    assert_int_equal(done, total);
    assert_int_equal(fxp_linereader_error(lr, NULL, 0), FXP_OK);
    fxp_linereader_close(lr);
    fxp_linereader_close(NULL);
}

static void test_source__linereader_long_lines_in_a_tiny_buffer(void **state)
{
    static const char text[] = "0123456789\n"
                               "0123456789abcdefXYZ\n" /* too long for 16 */
                               "x\n"
                               "0123456789abcdefXYZ"; /* too long, last */
    struct fxp_linereader *lr;
    struct fxp_line ln;
    uint64_t done, total;

    (void)state;
    assert_int_equal(
        fxp_linereader_open_mem(text, sizeof text - 1, NULL, 1, &lr), FXP_OK);
    assert_string_equal(fxp_linereader_name(lr), "<memory>");
    assert_int_equal(fxp_linereader_buf_size(lr), FXP_LINEREADER_MIN_BUF);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_OK);
    assert_int_equal(ln.len, 10);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_LONG);
    assert_int_equal(ln.no, 2);
    assert_null(ln.p);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_OK);
    assert_int_equal(ln.no, 3);
    assert_memory_equal(ln.p, "x", 1);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_LONG);
    assert_int_equal(ln.no, 4);
    assert_int_equal(fxp_linereader_next(lr, &ln), FXP_LINE_EOF);
    assert_int_equal(fxp_linereader_lines(lr), 4);
    fxp_linereader_progress(lr, &done, &total);
    assert_int_equal(done, total);
    fxp_linereader_close(lr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source__generic_ticks_with_symbol_column),
        cmocka_unit_test(test_source__generic_bars),
        cmocka_unit_test(
            test_source__generic_bars_any_column_order_and_symbol_option),
        cmocka_unit_test(test_source__histdata_m1_bars_are_utc_minus_5),
        cmocka_unit_test(test_source__histdata_ticks_ignore_volume),
        cmocka_unit_test(test_source__dukascopy_ticks_ask_first_and_volume_sum),
        cmocka_unit_test(test_source__dukascopy_bars),
        cmocka_unit_test(test_source__auto_detects_format_and_kind),
        cmocka_unit_test(
            test_source__forced_format_or_kind_that_fits_is_accepted),
        cmocka_unit_test(test_source__forced_wrong_kind_or_format_is_an_error),
        cmocka_unit_test(test_source__unknown_content_is_an_error),
        cmocka_unit_test(test_source__symbol_from_file_names),
        cmocka_unit_test(
            test_source__symbol_option_wins_over_the_name_silently),
        cmocka_unit_test(test_source__missing_symbol_is_an_error),
        cmocka_unit_test(
            test_source__symbol_option_conflicts_with_symbol_column),
        cmocka_unit_test(
            test_source__dukascopy_bars_not_1m_by_name_are_refused),
        cmocka_unit_test(
            test_source__histdata_bad_lines_are_reported_and_skipped),
        cmocka_unit_test(test_source__dukascopy_and_generic_bad_lines),
        cmocka_unit_test(test_source__crlf_and_bom),
        cmocka_unit_test(
            test_source__lines_cross_the_buffer_and_overlong_lines),
        cmocka_unit_test(test_source__empty_files),
        cmocka_unit_test(test_source__standard_input_is_read_once),
        cmocka_unit_test(test_source__open_errors_and_wrong_kind),
        cmocka_unit_test(test_source__linereader_unread_and_line_ends),
        cmocka_unit_test(test_source__linereader_long_lines_in_a_tiny_buffer),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
