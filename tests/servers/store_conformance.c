/*
 * store_conformance.c - the backend-neutral cases of the store conformance
 * suite that read bars back: helpers, the version rule, scans, series,
 * coverage and present bars. Not a test program of its own: included by
 * test_store_conformance.c, which holds the other cases and runs them all
 * once per backend. g_url names the store under test, g_tag makes the
 * symbols of one run unique.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"

#define T0     1704067200000LL /* 2024-01-01T00:00:00Z */
#define MINUTE 60000LL
#define HOUR   3600000LL
#define DAY    86400000LL
#define FAR    4102488000000LL /* 2100-01-01T12:00:00Z: newest tick */

static const char *g_url; /* the backend under test */
static char g_tag[8];     /* unique to this run */

/* A store call that must succeed; a failure shows the store's message. */
#define assert_store_ok(s, call)                                               \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != FXP_OK)                                                     \
            fail_msg("%s: %s (%s)", #call, fxp_store_errmsg(s),                \
                     fxp_err_name(rc_));                                       \
    } while (0)

static bool is_sqlite(void)
{
    return !strstr(g_url, "://") || !strncmp(g_url, "sqlite:", 7);
}

/* A symbol unique to the run: two letters naming the test, then g_tag. */
static void sym(char out[16], const char *two)
{
    snprintf(out, 16, "%.2s%s", two, g_tag);
}

static struct fxp_store *open_opts(bool keep_ticks, int64_t retention_ms)
{
    struct fxp_store_opts o;
    struct fxp_store *s = NULL;
    char err[512];
    int rc;

    fxp_store_opts_default(&o);
    o.keep_ticks = keep_ticks;
    o.tick_retention_ms = retention_ms;
    rc = fxp_store_open(g_url, &o, &s, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("open '%s': %s (%s)", g_url, err, fxp_err_name(rc));
    return s;
}

static struct fxp_store *open_store(void)
{
    return open_opts(false, 0);
}

/* A symbol table holding the given names; ids 0, 1, ... */
static struct fxp_symtab *symtab(const char *a, const char *b)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    uint32_t id;

    assert_non_null(st);
    assert_int_equal(fxp_symtab_intern(st, a, strlen(a), &id), FXP_OK);
    if (b)
        assert_int_equal(fxp_symtab_intern(st, b, strlen(b), &id), FXP_OK);
    return st;
}

static struct fxp_bar mkbar(uint32_t id, fxp_tf tf, int64_t ts, double px,
                            int64_t version)
{
    struct fxp_bar b = {.ts_ms = ts,
                        .open = px,
                        .high = px + 0.001,
                        .low = px - 0.001,
                        .close = px + 0.0005,
                        .volume = 12.5,
                        .version = version,
                        .n_ticks = 7,
                        .sym = id,
                        .tf = (uint8_t)tf,
                        .source = FXP_SRC_LIVE};
    return b;
}

static void put(struct fxp_store *s, const struct fxp_symtab *st,
                const struct fxp_bar *b, size_t n)
{
    struct fxp_store_batch batch = {.bars = b, .n_bars = n, .symtab = st};
    int rc = fxp_store_write(s, &batch);

    if (rc != FXP_OK)
        fail_msg("write: %s (%s)", fxp_store_errmsg(s), fxp_err_name(rc));
}

/* Bars read back by a scan. */
struct got {
    struct fxp_bar b[512];
    size_t n, stop_after; /* stop_after 0 = never stop */
};

static int collect(void *ud, const char *symbol, const struct fxp_bar *b)
{
    struct got *g = ud;

    (void)symbol;
    assert_true(g->n < 512);
    g->b[g->n++] = *b;
    return g->stop_after && g->n >= g->stop_after;
}

static struct got *scan(struct fxp_store *s, const char *name, fxp_tf tf,
                        int64_t from, int64_t to)
{
    struct got *g = calloc(1, sizeof *g);

    assert_non_null(g);
    assert_store_ok(s, fxp_store_scan_bars(s, name, tf, from, to, collect, g));
    return g;
}

static void test_store__highest_version_wins(void **state)
{
    (void)state;
    char a[16];
    sym(a, "UP");
    struct fxp_symtab *st = symtab(a, NULL);
    struct fxp_store *s = open_store();
    struct fxp_bar v2 = mkbar(0, FXP_TF_1M, T0, 1.2, 2);
    struct fxp_bar v1 = mkbar(0, FXP_TF_1M, T0, 1.1, 1);
    struct fxp_bar v3 = mkbar(0, FXP_TF_1M, T0, 1.3, 3);
    struct fxp_bar twice = mkbar(0, FXP_TF_1M, T0 + MINUTE, 1.5, 9);
    struct fxp_bar mixed[2] = {mkbar(0, FXP_TF_1M, T0 + 2 * MINUTE, 1.7, 5),
                               mkbar(0, FXP_TF_1M, T0 + 2 * MINUTE, 1.6, 4)};
    struct got *g;

    put(s, st, &v2, 1);
    put(s, st, &v1, 1);
    put(s, st, &v3, 1);
    put(s, st, &v1, 1); /* lower again: still v3 */
    put(s, st, &twice, 1);
    put(s, st, &twice, 1);
    put(s, st, mixed, 2);
    g = scan(s, a, FXP_TF_1M, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->b[0].version, 3);
    assert_true(g->b[0].open == 1.3);
    assert_int_equal(g->b[1].version, 9);
    assert_int_equal(g->b[2].version, 5);
    assert_true(g->b[2].open == 1.7);
    free(g);
    fxp_store_close(s);

    /* The same on a fresh handle. */
    s = open_store();
    g = scan(s, a, FXP_TF_1M, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->b[0].version, 3);
    free(g);
    fxp_store_close(s);
    fxp_symtab_free(st);
}

static void test_store__scan_is_ascending_within_from_to(void **state)
{
    (void)state;
    char a[16];
    sym(a, "SC");
    struct fxp_symtab *st = symtab(a, NULL);
    struct fxp_store *s = open_store();
    struct fxp_bar b[311];
    size_t n = 0;
    struct got *g;

    /* Written newest first; values that need all 17 digits. */
    for (int i = 9; i >= 0; i--)
        b[n++] = mkbar(0, FXP_TF_1M, T0 + i * MINUTE, 1.0954321987654321 + i,
                       100 + i);
    b[0].volume = 1e-7;
    b[0].n_ticks = 4000000000u;
    b[0].source = FXP_SRC_GAPFILL;
    b[n++] = mkbar(0, FXP_TF_5M, T0, 2.5, 1);
    /* 300 days of one bar a day: a scan longer than one read window. */
    for (int i = 0; i < 300; i++)
        b[n++] = mkbar(0, FXP_TF_1M, T0 + 10 * DAY + i * DAY, 3.0, 1);
    put(s, st, b, n);

    g = scan(s, a, FXP_TF_1M, T0 + 2 * MINUTE, T0 + 5 * MINUTE);
    assert_int_equal(g->n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(g->b[i].ts_ms, T0 + (int64_t)(i + 2) * MINUTE);
        assert_true(g->b[i].open == 1.0954321987654321 + (double)(i + 2));
        assert_int_equal(g->b[i].tf, FXP_TF_1M);
        assert_int_equal(g->b[i].sym, 0);
    }
    free(g);
    g = scan(s, a, FXP_TF_1M, T0 + 9 * MINUTE, T0 + 10 * MINUTE);
    assert_int_equal(g->n, 1);
    assert_true(g->b[0].open == b[0].open && g->b[0].high == b[0].high &&
                g->b[0].low == b[0].low && g->b[0].close == b[0].close);
    assert_true(g->b[0].volume == 1e-7);
    assert_int_equal(g->b[0].n_ticks, 4000000000u);
    assert_int_equal(g->b[0].version, 109);
    assert_int_equal(g->b[0].source, FXP_SRC_GAPFILL);
    free(g);
    g = scan(s, a, FXP_TF_1M, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 310);
    for (size_t i = 1; i < g->n; i++)
        assert_true(g->b[i - 1].ts_ms < g->b[i].ts_ms);
    free(g);
    g = scan(s, a, FXP_TF_5M, INT64_MIN, INT64_MAX);
    assert_int_equal(g->n, 1);
    free(g);
    g = scan(s, a, FXP_TF_1M, T0 + 5 * MINUTE, T0 + 5 * MINUTE);
    assert_int_equal(g->n, 0);
    free(g);
    g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->stop_after = 2;
    assert_store_ok(s, fxp_store_scan_bars(s, a, FXP_TF_1M, INT64_MIN,
                                           INT64_MAX, collect, g));
    assert_int_equal(g->n, 2);
    free(g);
    fxp_store_close(s);
    fxp_symtab_free(st);
}

/* The series of this run, in the order listed, and whether the whole
 * listing is ordered by symbol then timeframe. */
struct series {
    struct fxp_series_info mine[16];
    size_t n;
    struct fxp_series_info prev;
    bool have_prev, ordered;
    const char *a, *b; /* the symbols of this run */
};

static int on_series(void *ud, const struct fxp_series_info *i)
{
    struct series *sr = ud;
    int c = sr->have_prev ? strcmp(sr->prev.symbol, i->symbol) : -1;

    if (c > 0 || (c == 0 && sr->prev.tf >= i->tf))
        sr->ordered = false;
    sr->prev = *i;
    sr->have_prev = true;
    if ((!strcmp(i->symbol, sr->a) || !strcmp(i->symbol, sr->b)) && sr->n < 16)
        sr->mine[sr->n++] = *i;
    return 0;
}

static void test_store__series_by_symbol_then_timeframe(void **state)
{
    (void)state;
    char a[16], b[16];
    sym(a, "SA");
    sym(b, "SB");
    struct fxp_symtab *st = symtab(b, a); /* b = 0, a = 1 */
    struct fxp_store *s = open_store();
    struct fxp_bar bars[] = {
        mkbar(1, FXP_TF_1W, T0, 1, 1),          mkbar(1, FXP_TF_1H, T0, 1, 1),
        mkbar(1, FXP_TF_1M, T0 + MINUTE, 1, 1), mkbar(1, FXP_TF_1M, T0, 1, 1),
        mkbar(1, FXP_TF_15M, T0, 1, 1),         mkbar(0, FXP_TF_1M, T0, 1, 1),
        mkbar(1, FXP_TF_1M, T0 + DAY, 1, 1),    mkbar(1, FXP_TF_1M, T0, 1, 2),
    };
    struct series sr = {.ordered = true, .a = a, .b = b};
    static const fxp_tf want_tf[] = {FXP_TF_1M, FXP_TF_15M, FXP_TF_1H,
                                     FXP_TF_1W, FXP_TF_1M};

    put(s, st, bars, sizeof bars / sizeof *bars);
    assert_store_ok(s, fxp_store_series(s, on_series, &sr));
    assert_true(sr.ordered);
    assert_int_equal(sr.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(sr.mine[i].symbol, i < 4 ? a : b);
        assert_int_equal(sr.mine[i].tf, want_tf[i]);
    }
    assert_int_equal(sr.mine[0].count, 3);
    assert_int_equal(sr.mine[0].first_ts, T0);
    assert_int_equal(sr.mine[0].last_ts, T0 + DAY);
    assert_int_equal(sr.mine[4].count, 1);
    fxp_store_close(s);
    fxp_symtab_free(st);
}

struct days {
    int64_t day[8];
    uint64_t n[8];
    size_t count;
};

static int on_day(void *ud, int64_t day_ms, uint64_t bars)
{
    struct days *d = ud;

    assert_true(d->count < 8);
    d->day[d->count] = day_ms;
    d->n[d->count++] = bars;
    return 0;
}

static void expect_days(struct fxp_store *s, const char *name, fxp_tf tf,
                        int64_t from, int64_t to, const int64_t (*w)[2],
                        size_t n)
{
    struct days d = {0};

    assert_store_ok(s, fxp_store_coverage(s, name, tf, from, to, on_day, &d));
    assert_int_equal(d.count, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(d.day[i], w[i][0]);
        assert_int_equal(d.n[i], (uint64_t)w[i][1]);
    }
}

static void test_store__coverage_counts_bars_per_day(void **state)
{
    (void)state;
    char a[16];
    sym(a, "CV");
    struct fxp_symtab *st = symtab(a, NULL);
    struct fxp_store *s = open_store();
    struct fxp_bar b[] = {
        mkbar(0, FXP_TF_1M, T0, 1, 1),
        mkbar(0, FXP_TF_1M, T0 + MINUTE, 1, 1),
        mkbar(0, FXP_TF_1M, T0 + DAY - MINUTE, 1, 1),
        mkbar(0, FXP_TF_1M, T0 + DAY, 1, 1),
        mkbar(0, FXP_TF_1M, T0 + DAY + HOUR, 1, 1),
        mkbar(0, FXP_TF_5M, T0, 1, 1),
    };
    static const int64_t both[][2] = {{T0, 3}, {T0 + DAY, 2}};
    static const int64_t second[][2] = {{T0 + DAY, 2}};
    static const int64_t fivem[][2] = {{T0, 1}};

    put(s, st, b, 6);
    put(s, st, b, 6);
    for (size_t i = 0; i < 6; i++)
        b[i].version = 2; /* revisions are not new bars */
    put(s, st, b, 6);
    expect_days(s, a, FXP_TF_1M, INT64_MIN, INT64_MAX, both, 2);
    /* Every day overlapping [from, to), counted whole. */
    expect_days(s, a, FXP_TF_1M, T0 + HOUR, T0 + DAY + MINUTE, both, 2);
    expect_days(s, a, FXP_TF_1M, T0 + DAY, T0 + 2 * DAY, second, 1);
    expect_days(s, a, FXP_TF_1M, T0 + 2 * DAY, T0 + 3 * DAY, NULL, 0);
    expect_days(s, a, FXP_TF_5M, INT64_MIN, INT64_MAX, fivem, 1);
    /* Without bitmaps (network stores) presence reports the counts. */
    fxp_store_close(s);
    fxp_symtab_free(st);
}

struct times {
    int64_t ts[16];
    size_t n;
};

static int on_ts(void *ud, int64_t ts)
{
    struct times *t = ud;

    assert_true(t->n < 16);
    t->ts[t->n++] = ts;
    return 0;
}

static void test_store__present_skips_bad_rows(void **state)
{
    (void)state;
    char a[16];
    sym(a, "PR");
    struct fxp_symtab *st = symtab(a, NULL);
    struct fxp_store *s = open_store();
    struct fxp_bar good[] = {mkbar(0, FXP_TF_1M, T0, 1, 1),
                             mkbar(0, FXP_TF_1M, T0 + 4 * MINUTE, 1, 1),
                             mkbar(0, FXP_TF_1M, T0 + 6 * MINUTE, 1, 1)};
    struct fxp_bar bad[] = {mkbar(0, FXP_TF_1M, T0 + MINUTE, 1, 1),
                            mkbar(0, FXP_TF_1M, T0 + 2 * MINUTE, 1, 1),
                            mkbar(0, FXP_TF_1M, T0 + 3 * MINUTE, 1, 1),
                            mkbar(0, FXP_TF_1M, T0 + 5 * MINUTE, 1, 1),
                            mkbar(0, FXP_TF_1M, T0 + 7 * MINUTE, 1, 1),
                            mkbar(0, FXP_TF_1M, T0 + 7 * MINUTE, 1, 2),
                            mkbar(0, FXP_TF_1M, T0 + 8 * MINUTE, 1, 1),
                            mkbar(0, FXP_TF_1M, T0 + 8 * MINUTE, 1, 2)};
    struct fxp_store_batch batch = {.bars = bad, .n_bars = 8, .symtab = st};
    struct times t = {0};
    int rc;

    good[2].volume = 0; /* volume 0 is present */
    bad[0].open = NAN;
    bad[1].close = 0;
    bad[2].volume = -1;
    bad[3].high = NAN;
    bad[5].low = NAN;  /* a good v1 replaced by a bad v2: not present */
    bad[6].open = NAN; /* a bad v1 replaced by a good v2: present */
    put(s, st, good, 3);
    rc = fxp_store_write(s, &batch);
    if (rc != FXP_OK)
        print_message("SKIP present bad rows: %s refused them: %s\n", g_url,
                      fxp_store_errmsg(s));
    assert_store_ok(
        s, fxp_store_present(s, a, FXP_TF_1M, INT64_MIN, INT64_MAX, on_ts, &t));
    assert_int_equal(t.n, rc == FXP_OK ? 4 : 3);
    assert_int_equal(t.ts[0], T0);
    assert_int_equal(t.ts[1], T0 + 4 * MINUTE);
    assert_int_equal(t.ts[2], T0 + 6 * MINUTE);
    if (rc == FXP_OK)
        assert_int_equal(t.ts[3], T0 + 8 * MINUTE);
    memset(&t, 0, sizeof t);
    assert_store_ok(s, fxp_store_present(s, a, FXP_TF_1M, T0 + MINUTE,
                                         T0 + 6 * MINUTE, on_ts, &t));
    assert_int_equal(t.n, 1);
    assert_int_equal(t.ts[0], T0 + 4 * MINUTE);
    fxp_store_close(s);
    fxp_symtab_free(st);
}
