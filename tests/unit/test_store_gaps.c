/*
 * test_store_gaps.c - the coverage summary, present bars and the period
 * ledger of the store (store.h, "Coverage" onwards) over SQLite: counts
 * kept by fxp_store_write, migration of a version-1 file, rows written by
 * other tools, the rescan, and the ledger with two concurrent writers.
 * Every test works in its own mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "store/store_int.h"

#define T0     1704067200000LL /* 2024-01-01T00:00:00Z, a Monday */
#define MINUTE 60000LL
#define HOUR   3600000LL
#define DAY    86400000LL

struct fx {
    char dir[64];          /* the test's temporary directory */
    char db[128];          /* dir/t.db */
    struct fxp_symtab *st; /* EURUSD = 0, GBPUSD = 1 */
    uint32_t eur, gbp;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/fxp_stgaps_XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    f->st = fxp_symtab_new(16);
    assert_non_null(f->st);
    assert_int_equal(fxp_symtab_intern(f->st, "EURUSD", 6, &f->eur), FXP_OK);
    assert_int_equal(fxp_symtab_intern(f->st, "GBPUSD", 6, &f->gbp), FXP_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[512];

    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    fxp_symtab_free(f->st);
    free(f);
    return 0;
}

static struct fxp_store *open_store(const char *db)
{
    struct fxp_store *s = NULL;
    char err[256];
    int rc = fxp_store_open(db, NULL, &s, err, sizeof err);

    if (rc != FXP_OK)
        fail_msg("open '%s': %s (%s)", db, err, fxp_err_name(rc));
    return s;
}

static struct fxp_bar mkbar(uint32_t sym, fxp_tf tf, int64_t ts,
                            int64_t version)
{
    struct fxp_bar b = {
        .ts_ms = ts,
        .open = 1.1,
        .high = 1.2,
        .low = 1.0,
        .close = 1.15,
        .volume = 12.5,
        .version = version,
        .n_ticks = 7,
        .sym = sym,
        .tf = (uint8_t)tf,
        .source = FXP_SRC_LIVE,
    };
    return b;
}

static int write_bars(struct fx *f, struct fxp_store *s,
                      const struct fxp_bar *bars, size_t n)
{
    struct fxp_store_batch b = {.bars = bars, .n_bars = n, .symtab = f->st};
    return fxp_store_write(s, &b);
}

/* ---- collectors ---- */

struct days {
    int64_t day[8192];
    uint64_t bars[8192];
    size_t n;
    size_t stop_after; /* 0 = never stop */
};

static int on_day(void *ud, int64_t day_ms, uint64_t bars)
{
    struct days *d = ud;

    assert_true(d->n < 8192);
    d->day[d->n] = day_ms;
    d->bars[d->n++] = bars;
    return d->stop_after && d->n >= d->stop_after;
}

/* Coverage of sym/tf in [from, to) into a heap struct days. */
static struct days *coverage(struct fxp_store *s, const char *sym, fxp_tf tf,
                             int64_t from, int64_t to)
{
    struct days *d = calloc(1, sizeof *d);

    assert_non_null(d);
    assert_int_equal(fxp_store_coverage(s, sym, tf, from, to, on_day, d),
                     FXP_OK);
    return d;
}

/* Assert the coverage of sym/tf over all time is exactly want[] (pairs of
 * day, bars). */
static void expect_coverage(struct fxp_store *s, const char *sym, fxp_tf tf,
                            const int64_t (*want)[2], size_t n)
{
    struct days *d = coverage(s, sym, tf, INT64_MIN, INT64_MAX);

    assert_int_equal(d->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(d->day[i], want[i][0]);
        assert_int_equal(d->bars[i], want[i][1]);
    }
    free(d);
}

struct times {
    int64_t ts[64];
    size_t n;
};

static int on_ts(void *ud, int64_t ts)
{
    struct times *t = ud;

    assert_true(t->n < 64);
    t->ts[t->n++] = ts;
    return 0;
}

struct entries {
    struct fxp_ledger_entry e[2048];
    size_t n;
    size_t stop_after;
};

static int on_entry(void *ud, const struct fxp_ledger_entry *e)
{
    struct entries *g = ud;

    assert_true(g->n < 2048);
    g->e[g->n++] = *e;
    return g->stop_after && g->n >= g->stop_after;
}

static struct entries *ledger(struct fxp_store *s, const char *sym, fxp_tf tf,
                              int64_t from, int64_t to)
{
    struct entries *g = calloc(1, sizeof *g);

    assert_non_null(g);
    assert_int_equal(fxp_store_ledger_scan(s, sym, tf, from, to, on_entry, g),
                     FXP_OK);
    return g;
}

/* One integer from a query on the store's own connection. */
static int64_t query_int(struct fxp_store *s, const char *sql)
{
    sqlite3 *db = fxp__store_sqlite_db(s);
    sqlite3_stmt *st;
    int64_t v;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---- coverage kept by fxp_store_write ---- */

static void test_store_gaps__new_bars_are_counted_once(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db);
    struct fxp_bar in[6] = {
        mkbar(f->eur, FXP_TF_1M, T0, 10),
        mkbar(f->eur, FXP_TF_1M, T0 + MINUTE, 10),
        mkbar(f->eur, FXP_TF_1M, T0 + DAY - MINUTE, 10),
        mkbar(f->eur, FXP_TF_1M, T0 + DAY, 10),
        mkbar(f->eur, FXP_TF_1M, T0 + DAY + HOUR, 10),
        mkbar(f->eur, FXP_TF_5M, T0, 10),
    };
    static const int64_t want_1m[][2] = {{T0, 3}, {T0 + DAY, 2}};
    static const int64_t want_5m[][2] = {{T0, 1}};

    assert_int_equal(write_bars(f, s, in, 6), FXP_OK);
    expect_coverage(s, "EURUSD", FXP_TF_1M, want_1m, 2);
    expect_coverage(s, "EURUSD", FXP_TF_5M, want_5m, 1);
    expect_coverage(s, "GBPUSD", FXP_TF_1M, NULL, 0);

    /* The same bars again, lower versions, higher versions: the bars
     * change (or not), the counts never do. */
    assert_int_equal(write_bars(f, s, in, 6), FXP_OK);
    for (int i = 0; i < 6; i++)
        in[i].version = 9;
    assert_int_equal(write_bars(f, s, in, 6), FXP_OK);
    assert_int_equal(query_int(s, "SELECT sum(revisions) FROM bars"), 0);
    for (int i = 0; i < 6; i++)
        in[i].version = 11;
    assert_int_equal(write_bars(f, s, in, 6), FXP_OK);
    assert_int_equal(query_int(s, "SELECT sum(revisions) FROM bars"), 6);
    assert_int_equal(query_int(s, "SELECT min(version) FROM bars"), 11);
    expect_coverage(s, "EURUSD", FXP_TF_1M, want_1m, 2);
    expect_coverage(s, "EURUSD", FXP_TF_5M, want_5m, 1);

    /* A new bar twice in one batch (inserted, then revised) counts once;
     * its day's row is added to, not replaced. */
    struct fxp_bar two[2] = {mkbar(f->eur, FXP_TF_1M, T0 + 2 * MINUTE, 5),
                             mkbar(f->eur, FXP_TF_1M, T0 + 2 * MINUTE, 6)};
    static const int64_t want_after[][2] = {{T0, 4}, {T0 + DAY, 2}};
    assert_int_equal(write_bars(f, s, two, 2), FXP_OK);
    expect_coverage(s, "EURUSD", FXP_TF_1M, want_after, 2);
    assert_int_equal(query_int(s, "SELECT revisions FROM bars WHERE ts = "
                                  "1704067320000 AND timeframe = '1m'"),
                     1);
    fxp_store_close(s);

    /* Kept across reopening. */
    s = open_store(f->db);
    expect_coverage(s, "EURUSD", FXP_TF_1M, want_after, 2);
    fxp_store_close(s);
}

static void test_store_gaps__coverage_by_day_timeframe_and_symbol(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db);
    struct fxp_bar in[] = {
        mkbar(f->gbp, FXP_TF_1H, T0 + 3 * DAY + HOUR, 1),
        mkbar(f->eur, FXP_TF_1H, T0 + HOUR, 1),
        mkbar(f->eur, FXP_TF_1H, T0 + 2 * DAY, 1),
        mkbar(f->eur, FXP_TF_1H, T0 + 2 * DAY + 23 * HOUR, 1),
        mkbar(f->eur, FXP_TF_1D, T0, 1),
        mkbar(f->eur, FXP_TF_1D, T0 + DAY, 1),
        mkbar(f->eur, FXP_TF_1H, -HOUR, 1), /* 1969-12-31T23:00Z */
        mkbar(f->eur, FXP_TF_1H, T0 + 4 * DAY, 1),
    };
    struct days *d;

    assert_int_equal(write_bars(f, s, in, sizeof in / sizeof in[0]), FXP_OK);
    static const int64_t want_1h[][2] = {
        {-DAY, 1}, {T0, 1}, {T0 + 2 * DAY, 2}, {T0 + 4 * DAY, 1}};
    static const int64_t want_1d[][2] = {{T0, 1}, {T0 + DAY, 1}};
    static const int64_t want_gbp[][2] = {{T0 + 3 * DAY, 1}};
    expect_coverage(s, "EURUSD", FXP_TF_1H, want_1h, 4);
    expect_coverage(s, "EURUSD", FXP_TF_1D, want_1d, 2);
    expect_coverage(s, "GBPUSD", FXP_TF_1H, want_gbp, 1);
    expect_coverage(s, "GBPUSD", FXP_TF_1D, NULL, 0);

    /* from is rounded down to its midnight; every day that starts before
     * `to` is included, so a `to` inside a day includes that day. */
    d = coverage(s, "EURUSD", FXP_TF_1H, T0 + 2 * DAY + 5 * HOUR, T0 + 4 * DAY);
    assert_int_equal(d->n, 1);
    assert_int_equal(d->day[0], T0 + 2 * DAY);
    free(d);
    d = coverage(s, "EURUSD", FXP_TF_1H, T0 + HOUR, T0 + 4 * DAY + 1);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->day[2], T0 + 4 * DAY);
    free(d);
    d = coverage(s, "EURUSD", FXP_TF_1H, -1, 0);
    assert_int_equal(d->n, 1);
    assert_int_equal(d->day[0], -DAY);
    free(d);
    d = coverage(s, "EURUSD", FXP_TF_1H, T0, T0);
    assert_int_equal(d->n, 0);
    free(d);

    /* A non-zero return stops; the store is usable after. */
    d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->stop_after = 2;
    assert_int_equal(fxp_store_coverage(s, "EURUSD", FXP_TF_1H, INT64_MIN,
                                        INT64_MAX, on_day, d),
                     FXP_OK);
    assert_int_equal(d->n, 2);
    free(d);
    assert_int_equal(
        fxp_store_coverage(s, "EURUSD", FXP_TF_COUNT, 0, 1, on_day, NULL),
        FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "unknown timeframe 8"));
    struct fxp_bar more = mkbar(f->eur, FXP_TF_1H, T0 + 2 * HOUR, 1);
    assert_int_equal(write_bars(f, s, &more, 1), FXP_OK);
    d = coverage(s, "EURUSD", FXP_TF_1H, T0, T0 + 1);
    assert_int_equal(d->n, 1);
    assert_int_equal(d->bars[0], 2);
    free(d);
    fxp_store_close(s);
}

static void test_store_gaps__a_failed_batch_leaves_the_counts(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db);
    struct fxp_bar in[3] = {mkbar(f->eur, FXP_TF_1M, T0, 1),
                            mkbar(f->eur, FXP_TF_1M, T0 + MINUTE, 1),
                            mkbar(9, FXP_TF_1M, T0 + 2 * MINUTE, 1)};
    static const int64_t one[][2] = {{T0, 1}};
    static const int64_t three[][2] = {{T0, 3}};

    assert_int_equal(write_bars(f, s, in, 1), FXP_OK);
    /* Bar 2 has no symbol name: the batch fails after bar 1 was counted;
     * neither the count nor the bar stays, and the next batch does not
     * inherit the pending count. */
    assert_int_equal(write_bars(f, s, in, 3), FXP_EINVAL);
    expect_coverage(s, "EURUSD", FXP_TF_1M, one, 1);
    in[2].sym = f->eur;
    assert_int_equal(write_bars(f, s, in, 3), FXP_OK);
    expect_coverage(s, "EURUSD", FXP_TF_1M, three, 1);
    fxp_store_close(s);
}

static void test_store_gaps__many_days_in_one_batch_are_counted(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db);
    enum { N = 5000 }; /* more distinct days than the count table holds */
    struct fxp_bar *in = calloc(N + 1, sizeof *in);
    struct days *d;

    assert_non_null(in);
    /* A 1m bar of day 0, 4999 daily bars, then another 1m bar of day 0:
     * the table fills and is applied mid-batch, and day 0's 1m row is
     * then added to. */
    in[0] = mkbar(f->eur, FXP_TF_1M, T0, 1);
    for (int i = 1; i < N; i++)
        in[i] = mkbar(f->eur, FXP_TF_1D, T0 + i * DAY, 1);
    in[N] = mkbar(f->eur, FXP_TF_1M, T0 + MINUTE, 1);
    assert_int_equal(write_bars(f, s, in, N + 1), FXP_OK);
    d = coverage(s, "EURUSD", FXP_TF_1D, INT64_MIN, INT64_MAX);
    assert_int_equal(d->n, N - 1);
    for (size_t i = 0; i < d->n; i++) {
        assert_int_equal(d->day[i], T0 + (int64_t)(i + 1) * DAY);
        assert_int_equal(d->bars[i], 1);
    }
    free(d);
    static const int64_t two[][2] = {{T0, 2}};
    expect_coverage(s, "EURUSD", FXP_TF_1M, two, 1);

    /* All revised: nothing counted. */
    for (int i = 0; i <= N; i++)
        in[i].version = 2;
    assert_int_equal(write_bars(f, s, in, N + 1), FXP_OK);
    assert_int_equal(query_int(s, "SELECT sum(bars) FROM coverage"), N + 1);
    assert_int_equal(query_int(s, "SELECT count(*) FROM coverage"), N);
    free(in);
    fxp_store_close(s);
}

/* ---- migration of a version-1 file ---- */

static void exec_ok(sqlite3 *h, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(h, sql, 0, 0, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

static void test_store_gaps__a_version_1_file_is_migrated(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s;
    sqlite3 *h;
    char val[8];

    /* The schema fxpipe 0.1 wrote, and some bars in it. */
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    exec_ok(h, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) "
               "WITHOUT ROWID;"
               "INSERT INTO meta VALUES('schema_version', '1');"
               "INSERT INTO meta VALUES('cursor', 'a.csv:9');"
               "CREATE TABLE bars("
               " symbol TEXT NOT NULL, timeframe TEXT NOT NULL,"
               " ts INTEGER NOT NULL,"
               " open REAL, high REAL, low REAL, close REAL, volume REAL,"
               " ticks INTEGER, version INTEGER NOT NULL, source TEXT,"
               " PRIMARY KEY(symbol, timeframe, ts)) WITHOUT ROWID;"
               "CREATE TABLE ticks("
               " symbol TEXT NOT NULL, ts INTEGER NOT NULL, bid REAL NOT NULL,"
               " ask REAL NOT NULL, volume REAL,"
               " PRIMARY KEY(symbol, ts, bid, ask)) WITHOUT ROWID;"
               "CREATE TABLE rejects("
               " origin TEXT NOT NULL PRIMARY KEY, ts INTEGER, symbol TEXT,"
               " reason TEXT, detail TEXT, raw TEXT);"
               "INSERT INTO bars VALUES"
               " ('EURUSD', '1m', 1704067200000, 1.1, 1.2, 1.0, 1.1, 5, 3, 10,"
               "  'live'),"
               " ('EURUSD', '1m', 1704067260000, 1.1, 1.2, 1.0, 1.1, 5, 3, 10,"
               "  'live'),"
               " ('EURUSD', '1m', 1704153600000, 1.1, 1.2, 1.0, 1.1, 5, 3, 10,"
               "  'live'),"
               " ('EURUSD', '1h', -3600000, 1.1, 1.2, 1.0, 1.1, 5, 3, 10,"
               "  'historical'),"
               " ('GBPUSD', '1m', 1704067200000, 1.3, 1.4, 1.2, 1.3, 5, 3, 10,"
               "  'live');");
    sqlite3_close(h);

    s = open_store(f->db);
    assert_int_equal(fxp_store_meta_get(s, "schema_version", val, sizeof val),
                     FXP_OK);
    assert_string_equal(val, "3");
    assert_int_equal(fxp_store_meta_get(s, "cursor", val, sizeof val), FXP_OK);
    assert_string_equal(val, "a.csv:9");
    static const int64_t eur_1m[][2] = {{T0, 2}, {T0 + DAY, 1}};
    static const int64_t eur_1h[][2] = {{-DAY, 1}};
    static const int64_t gbp_1m[][2] = {{T0, 1}};
    expect_coverage(s, "EURUSD", FXP_TF_1M, eur_1m, 2);
    expect_coverage(s, "EURUSD", FXP_TF_1H, eur_1h, 1);
    expect_coverage(s, "GBPUSD", FXP_TF_1M, gbp_1m, 1);
    /* The old rows read revisions 0, so a higher version updates without
     * counting and a new bar counts. */
    assert_int_equal(query_int(s, "SELECT count(*) FROM bars "
                                  "WHERE revisions = 0"),
                     5);
    assert_int_equal(query_int(s, "SELECT count(*) FROM ledger"), 0);
    struct fxp_bar in[2] = {mkbar(f->eur, FXP_TF_1M, T0, 11),
                            mkbar(f->eur, FXP_TF_1M, T0 + 2 * MINUTE, 11)};
    assert_int_equal(write_bars(f, s, in, 2), FXP_OK);
    static const int64_t eur_1m2[][2] = {{T0, 3}, {T0 + DAY, 1}};
    expect_coverage(s, "EURUSD", FXP_TF_1M, eur_1m2, 2);
    assert_int_equal(query_int(s, "SELECT revisions FROM bars WHERE "
                                  "symbol = 'EURUSD' AND timeframe = '1m' "
                                  "AND ts = 1704067200000"),
                     1);
    fxp_store_close(s);
}

/* ---- present bars and the rescan ---- */

/* EURUSD 1m rows as another tool would write them: straight through
 * sqlite3, with NULL, NaN (stored as NULL), zero and negative values. Four
 * are present: T0, T0 + 1m, T0 + 1d and T0 + 1d + 2m. */
static void write_as_another_tool(const char *db)
{
    static const struct {
        int64_t ts;
        double o, h, l, c, v;
        int null_col; /* 0 = none, else 1..5: open .. volume is NULL */
    } rows[] = {
        {T0, 1.1, 1.2, 1.0, 1.1, 5, 0},                     /* present */
        {T0 + MINUTE, 1.1, 1.2, 1.0, 1.1, 0, 0},            /* present */
        {T0 + 2 * MINUTE, 1.1, 1.2, 1.0, 1.1, 5, 1},        /* NULL open */
        {T0 + 3 * MINUTE, 1.1, 1.2, 1.0, NAN, 5, 0},        /* NaN close */
        {T0 + 4 * MINUTE, 1.1, 0.0, 1.0, 1.1, 5, 0},        /* zero high */
        {T0 + 5 * MINUTE, 1.1, 1.2, -1.0, 1.1, 5, 0},       /* negative low */
        {T0 + 6 * MINUTE, 1.1, 1.2, 1.0, 1.1, 5, 5},        /* NULL volume */
        {T0 + 7 * MINUTE, 1.1, 1.2, 1.0, 1.1, -1, 0},       /* negative vol */
        {T0 + 8 * MINUTE, NAN, NAN, NAN, NAN, NAN, 0},      /* all NaN */
        {T0 + DAY, 1.1, 1.2, 1.0, 1.1, 5, 0},               /* present */
        {T0 + DAY + MINUTE, 1.1, 1.2, 1.0, 1.1, 5, 4},      /* NULL close */
        {T0 + DAY + 2 * MINUTE, 1.1, 1.2, 1.0, 1.1, 1e9, 0} /* present */
    };
    sqlite3 *h;
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(h, 5000), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(h,
                           "INSERT INTO bars(symbol, timeframe, ts, open, "
                           "high, low, close, volume, ticks, version, source) "
                           "VALUES('EURUSD', '1m', ?1, ?2, ?3, ?4, ?5, ?6, "
                           "1, 1, 'other')",
                           -1, &st, NULL),
        SQLITE_OK);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        double v[5] = {rows[i].o, rows[i].h, rows[i].l, rows[i].c, rows[i].v};
        sqlite3_bind_int64(st, 1, rows[i].ts);
        for (int k = 0; k < 5; k++) {
            if (rows[i].null_col == k + 1)
                sqlite3_bind_null(st, k + 2);
            else
                sqlite3_bind_double(st, k + 2, v[k]);
        }
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void test_store_gaps__present_skips_bad_rows_of_other_tools(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db);
    struct fxp_bar gbp = mkbar(f->gbp, FXP_TF_1M, T0, 1);
    struct fxp_bar eur5 = mkbar(f->eur, FXP_TF_5M, T0, 1);
    struct times t = {0};
    static const int64_t want[] = {T0, T0 + MINUTE, T0 + DAY,
                                   T0 + DAY + 2 * MINUTE};

    assert_int_equal(write_bars(f, s, &gbp, 1), FXP_OK);
    assert_int_equal(write_bars(f, s, &eur5, 1), FXP_OK);
    write_as_another_tool(f->db);
    /* NaN really is stored as NULL. */
    assert_int_equal(query_int(s, "SELECT count(*) FROM bars WHERE "
                                  "close IS NULL"),
                     3);

    assert_int_equal(fxp_store_present(s, "EURUSD", FXP_TF_1M, INT64_MIN,
                                       INT64_MAX, on_ts, &t),
                     FXP_OK);
    assert_int_equal(t.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(t.ts[i], want[i]);
    /* [from, to) */
    memset(&t, 0, sizeof t);
    assert_int_equal(fxp_store_present(s, "EURUSD", FXP_TF_1M, T0 + MINUTE,
                                       T0 + DAY, on_ts, &t),
                     FXP_OK);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.ts[0], T0 + MINUTE);
    memset(&t, 0, sizeof t);
    assert_int_equal(fxp_store_present(s, "EURUSD", FXP_TF_5M, INT64_MIN,
                                       INT64_MAX, on_ts, &t),
                     FXP_OK);
    assert_int_equal(t.n, 1);

    /* The other tool did not keep the coverage; a rescan of EURUSD counts
     * only its present bars and leaves GBPUSD alone. */
    expect_coverage(s, "EURUSD", FXP_TF_1M, NULL, 0);
    assert_int_equal(fxp_store_rescan_coverage(s, "EURUSD"), FXP_OK);
    static const int64_t eur[][2] = {{T0, 2}, {T0 + DAY, 2}};
    static const int64_t eur_5m[][2] = {{T0, 1}};
    static const int64_t gbp_cov[][2] = {{T0, 1}};
    expect_coverage(s, "EURUSD", FXP_TF_1M, eur, 2);
    expect_coverage(s, "EURUSD", FXP_TF_5M, eur_5m, 1);
    expect_coverage(s, "GBPUSD", FXP_TF_1M, gbp_cov, 1);

    /* A stale summary (rows deleted by another tool, a count that is
     * wrong) is rebuilt by a rescan of everything. */
    sqlite3 *db = fxp__store_sqlite_db(s);
    exec_ok(db, "DELETE FROM bars WHERE symbol = 'GBPUSD';"
                "UPDATE coverage SET bars = 99 WHERE symbol = 'EURUSD';"
                "INSERT INTO coverage VALUES('XAUUSD', '1m', 0, 7, NULL);");
    assert_int_equal(fxp_store_rescan_coverage(s, NULL), FXP_OK);
    expect_coverage(s, "EURUSD", FXP_TF_1M, eur, 2);
    expect_coverage(s, "GBPUSD", FXP_TF_1M, NULL, 0);
    expect_coverage(s, "XAUUSD", FXP_TF_1M, NULL, 0);
    assert_int_equal(query_int(s, "SELECT count(*) FROM coverage"), 3);

    /* Rescanning twice changes nothing; new writes keep counting. */
    assert_int_equal(fxp_store_rescan_coverage(s, NULL), FXP_OK);
    struct fxp_bar more = mkbar(f->eur, FXP_TF_1M, T0 + 9 * MINUTE, 1);
    assert_int_equal(write_bars(f, s, &more, 1), FXP_OK);
    static const int64_t eur2[][2] = {{T0, 3}, {T0 + DAY, 2}};
    expect_coverage(s, "EURUSD", FXP_TF_1M, eur2, 2);
    fxp_store_close(s);
}

static void test_store_gaps__a_locked_rescan_times_out(void **state)
{
    struct fx *f = *state;
    struct fxp_store_opts o;
    struct fxp_store *s;
    sqlite3 *other;
    char err[256];

    fxp_store_opts_default(&o);
    o.busy_timeout_ms = 50;
    assert_int_equal(fxp_store_open(f->db, &o, &s, err, sizeof err), FXP_OK);
    struct fxp_bar b = mkbar(f->eur, FXP_TF_1M, T0, 1);
    assert_int_equal(write_bars(f, s, &b, 1), FXP_OK);
    assert_int_equal(sqlite3_open(f->db, &other), SQLITE_OK);
    exec_ok(other, "BEGIN IMMEDIATE");
    assert_int_equal(fxp_store_rescan_coverage(s, NULL), FXP_ETIMEDOUT);
    assert_non_null(strstr(fxp_store_errmsg(s), "cannot rescan coverage in"));
    struct fxp_ledger_entry e = {.symbol = "EURUSD", .day_ms = T0};
    assert_int_equal(fxp_store_ledger_put(s, &e, 1), FXP_ETIMEDOUT);
    exec_ok(other, "ROLLBACK");
    sqlite3_close(other);
    assert_int_equal(fxp_store_rescan_coverage(s, NULL), FXP_OK);
    assert_int_equal(fxp_store_ledger_put(s, &e, 1), FXP_OK);
    static const int64_t one[][2] = {{T0, 1}};
    expect_coverage(s, "EURUSD", FXP_TF_1M, one, 1);
    fxp_store_close(s);
}

/* ---- the ledger ---- */

static void test_store_gaps__ledger_state_names(void **state)
{
    (void)state;
    assert_string_equal(fxp_ledger_state_name(FXP_LEDGER_MISSING), "missing");
    assert_string_equal(fxp_ledger_state_name(FXP_LEDGER_DOWNLOADED),
                        "downloaded");
    assert_string_equal(fxp_ledger_state_name(FXP_LEDGER_VERIFIED), "verified");
    assert_string_equal(fxp_ledger_state_name(FXP_LEDGER_EMPTY),
                        "confirmed-empty");
    assert_string_equal(fxp_ledger_state_name(FXP_LEDGER_REVIEW),
                        "needs-review");
    assert_string_equal(fxp_ledger_state_name((fxp_ledger_state)5), "unknown");
    assert_string_equal(fxp_ledger_state_name((fxp_ledger_state)-1), "unknown");
}

static struct fxp_ledger_entry entry(const char *sym, fxp_tf tf, int64_t day,
                                     fxp_ledger_state st, uint32_t attempts,
                                     uint32_t bars, const char *detail)
{
    struct fxp_ledger_entry e = {.tf = tf,
                                 .day_ms = day,
                                 .state = st,
                                 .attempts = attempts,
                                 .bars = bars};

    snprintf(e.symbol, sizeof e.symbol, "%s", sym);
    snprintf(e.detail, sizeof e.detail, "%s", detail);
    return e;
}

static void test_store_gaps__ledger_put_scan_and_replace(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db);
    struct fxp_ledger_entry in[] = {
        entry("EURUSD", FXP_TF_1M, T0 + 2 * DAY, FXP_LEDGER_REVIEW, 3, 0,
              "HTTP 503 from 'api.example.com'"),
        entry("EURUSD", FXP_TF_1M, T0, FXP_LEDGER_VERIFIED, 1, 1440, ""),
        entry("EURUSD", FXP_TF_1M, T0 + DAY, FXP_LEDGER_EMPTY, 1, 0, ""),
        entry("EURUSD", FXP_TF_1H, T0, FXP_LEDGER_DOWNLOADED, 2, 24, "x"),
        entry("GBPUSD", FXP_TF_1M, T0, FXP_LEDGER_MISSING, 0, 0, ""),
        entry("EURUSD", FXP_TF_1M, -DAY, FXP_LEDGER_VERIFIED, 1, 1, ""),
    };
    struct entries *g;

    assert_int_equal(fxp_store_ledger_put(s, in, 6), FXP_OK);
    assert_int_equal(fxp_store_ledger_put(s, NULL, 0), FXP_OK);
    g = ledger(s, "EURUSD", FXP_TF_1M, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 4);
    static const int order[] = {5, 1, 2, 0};
    for (size_t i = 0; i < 4; i++) {
        const struct fxp_ledger_entry *w = &in[order[i]], *e = &g->e[i];
        assert_string_equal(e->symbol, "EURUSD");
        assert_int_equal(e->tf, FXP_TF_1M);
        assert_int_equal(e->day_ms, w->day_ms);
        assert_int_equal(e->state, w->state);
        assert_int_equal(e->attempts, w->attempts);
        assert_int_equal(e->bars, w->bars);
        assert_string_equal(e->detail, w->detail);
    }
    free(g);

    /* [from, to) on day; other series are separate. */
    g = ledger(s, "EURUSD", FXP_TF_1M, T0, T0 + 2 * DAY);
    assert_int_equal(g->n, 2);
    assert_int_equal(g->e[0].day_ms, T0);
    assert_int_equal(g->e[1].day_ms, T0 + DAY);
    free(g);
    g = ledger(s, "EURUSD", FXP_TF_1H, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->e[0].state, FXP_LEDGER_DOWNLOADED);
    assert_string_equal(g->e[0].detail, "x");
    free(g);
    g = ledger(s, "GBPUSD", FXP_TF_1M, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->e[0].state, FXP_LEDGER_MISSING);
    free(g);

    /* A put replaces the whole row. */
    struct fxp_ledger_entry again = entry("EURUSD", FXP_TF_1M, T0 + 2 * DAY,
                                          FXP_LEDGER_VERIFIED, 4, 1380, "");
    assert_int_equal(fxp_store_ledger_put(s, &again, 1), FXP_OK);
    g = ledger(s, "EURUSD", FXP_TF_1M, T0 + 2 * DAY, T0 + 3 * DAY);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->e[0].state, FXP_LEDGER_VERIFIED);
    assert_int_equal(g->e[0].attempts, 4);
    assert_int_equal(g->e[0].bars, 1380);
    assert_string_equal(g->e[0].detail, "");
    free(g);
    assert_int_equal(query_int(s, "SELECT count(*) FROM ledger"), 6);
    assert_int_equal(query_int(s, "SELECT count(*) FROM ledger WHERE "
                                  "state = 'needs-review'"),
                     0);

    /* Stopping early. */
    g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->stop_after = 1;
    assert_int_equal(fxp_store_ledger_scan(s, "EURUSD", FXP_TF_1M, INT64_MIN,
                                           INT64_MAX, on_entry, g),
                     FXP_OK);
    assert_int_equal(g->n, 1);
    free(g);
    fxp_store_close(s);
}

static void test_store_gaps__bad_ledger_entries_store_nothing(void **state)
{
    struct fx *f = *state;
    struct fxp_store *s = open_store(f->db);
    struct fxp_ledger_entry in[2] = {
        entry("EURUSD", FXP_TF_1M, T0, FXP_LEDGER_VERIFIED, 1, 1, ""),
        entry("EURUSD", FXP_TF_1M, T0 + DAY, FXP_LEDGER_VERIFIED, 1, 1, "")};
    char want[256];

    in[1].day_ms = T0 + DAY + HOUR;
    assert_int_equal(fxp_store_ledger_put(s, in, 2), FXP_EINVAL);
    snprintf(want, sizeof want,
             "cannot write to '%s': ledger entry 1 has a day that is not a "
             "UTC midnight",
             f->db);
    assert_string_equal(fxp_store_errmsg(s), want);
    in[1].day_ms = T0 + DAY;
    in[1].state = (fxp_ledger_state)7;
    assert_int_equal(fxp_store_ledger_put(s, in, 2), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "an unknown state"));
    in[1].state = FXP_LEDGER_EMPTY;
    in[1].tf = FXP_TF_COUNT;
    assert_int_equal(fxp_store_ledger_put(s, in, 2), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "an unknown timeframe"));
    in[1].tf = FXP_TF_1M;
    in[1].symbol[0] = '\0';
    assert_int_equal(fxp_store_ledger_put(s, in, 2), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "no symbol"));
    memset(in[1].symbol, 'A', sizeof in[1].symbol);
    assert_int_equal(fxp_store_ledger_put(s, in, 2), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "an unterminated symbol"));
    memset(in[1].detail, 'A', sizeof in[1].detail);
    snprintf(in[1].symbol, sizeof in[1].symbol, "EURUSD");
    assert_int_equal(fxp_store_ledger_put(s, in, 2), FXP_EINVAL);
    assert_non_null(strstr(fxp_store_errmsg(s), "an unterminated detail"));
    assert_int_equal(query_int(s, "SELECT count(*) FROM ledger"), 0);

    /* A state another tool spelled wrongly is an I/O error naming it. */
    exec_ok(fxp__store_sqlite_db(s),
            "INSERT INTO ledger VALUES('EURUSD', '1m', 1704067200000, "
            "'done', 1, 1, '')");
    assert_int_equal(fxp_store_ledger_scan(s, "EURUSD", FXP_TF_1M, INT64_MIN,
                                           INT64_MAX, on_entry, NULL),
                     FXP_EIO);
    assert_non_null(strstr(fxp_store_errmsg(s), "unknown ledger state 'done'"));
    fxp_store_close(s);
}

/* Two writers, each with its own handle, on overlapping days. */
struct writer {
    struct fxp_store *s;
    int id; /* 0 writes days [0, 1000), 1 writes [500, 1500) */
    int rc; /* first failure, FXP_OK if none */
    char err[512];
};

#define N_PUT 1000

static struct fxp_ledger_entry written(int id, int day)
{
    char detail[64];

    snprintf(detail, sizeof detail, "writer %d day %d", id, day);
    return entry("EURUSD", FXP_TF_1M, T0 + day * DAY,
                 id ? FXP_LEDGER_VERIFIED : FXP_LEDGER_DOWNLOADED,
                 (uint32_t)id + 1, (uint32_t)(day * 10 + id), detail);
}

static void *run_writer(void *arg)
{
    struct writer *w = arg;
    int first = w->id ? 500 : 0;

    /* Puts of 1 to 4 entries, so the two interleave finely. */
    for (int i = 0, n; i < N_PUT && w->rc == FXP_OK; i += n) {
        struct fxp_ledger_entry e[4];

        n = 1 + (i / 7) % 4;
        if (n > N_PUT - i)
            n = N_PUT - i;
        for (int k = 0; k < n; k++)
            e[k] = written(w->id, first + i + k);
        w->rc = fxp_store_ledger_put(w->s, e, (size_t)n);
        if (w->rc != FXP_OK)
            snprintf(w->err, sizeof w->err, "%s", fxp_store_errmsg(w->s));
    }
    return NULL;
}

static void test_store_gaps__concurrent_ledger_writers(void **state)
{
    struct fx *f = *state;
    struct writer w[2];
    pthread_t th[2];
    struct fxp_store *s;
    struct entries *g;

    /* Opened one after the other (the first creates the schema); then each
     * thread uses only its own handle. */
    for (int i = 0; i < 2; i++)
        w[i] = (struct writer){.s = open_store(f->db), .id = i};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, run_writer, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (w[i].rc != FXP_OK)
            fail_msg("writer %d: %s (%s)", i, w[i].err, fxp_err_name(w[i].rc));
        fxp_store_close(w[i].s);
    }

    s = open_store(f->db);
    g = ledger(s, "EURUSD", FXP_TF_1M, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 1500);
    for (int day = 0; day < 1500; day++) {
        const struct fxp_ledger_entry *e = &g->e[day];
        int id = (int)e->attempts - 1;
        struct fxp_ledger_entry want;

        assert_int_equal(e->day_ms, T0 + day * DAY);
        assert_true(id == 0 || id == 1);
        if (day < 500)
            assert_int_equal(id, 0);
        if (day >= 1000)
            assert_int_equal(id, 1);
        /* The whole row is one writer's. */
        want = written(id, day);
        assert_int_equal(e->state, want.state);
        assert_int_equal(e->bars, want.bars);
        assert_string_equal(e->detail, want.detail);
    }
    free(g);
    assert_int_equal(query_int(s, "SELECT count(*) FROM ledger"), 1500);
    fxp_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_gaps__ledger_state_names),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_store_gaps__new_bars_are_counted_once),
        T(test_store_gaps__coverage_by_day_timeframe_and_symbol),
        T(test_store_gaps__a_failed_batch_leaves_the_counts),
        T(test_store_gaps__many_days_in_one_batch_are_counted),
        T(test_store_gaps__a_version_1_file_is_migrated),
        T(test_store_gaps__present_skips_bad_rows_of_other_tools),
        T(test_store_gaps__a_locked_rescan_times_out),
        T(test_store_gaps__ledger_put_scan_and_replace),
        T(test_store_gaps__bad_ledger_entries_store_nothing),
        T(test_store_gaps__concurrent_ledger_writers),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
