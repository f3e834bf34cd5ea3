/*
 * store_clickhouse_read.c - the ClickHouse backend's read-only ops: meta,
 * bar scans, series, counts, the reject summary, coverage, present bars
 * and the ledger scan (store_clickhouse.c has the design notes).
 *
 * Design notes
 *
 *  1. Every query reads its table with FINAL, so duplicates a background
 *     merge has not yet removed never show, and the row that a merge would
 *     keep (highest version, newest 'updated') is the one returned.
 *  2. Conditions on columns outside the sorting key (prices, volume) are
 *     applied in an outer query, after FINAL has picked each key's row:
 *     filtering first could keep an older version that a newer one
 *     replaced. Conditions on key columns (symbol, timeframe, ts, day) are
 *     the same for every version of a row and go inside, where the primary
 *     index uses them.
 *  3. Scans that can be long (bars, present bars, the ledger) first ask
 *     for the smallest and largest key in range, then read windows of at
 *     most PAGE timeframe steps each, in ascending order. Every window is
 *     one request whose answer is read whole before the callback runs, so
 *     a slow callback never holds a request open past the statement
 *     timeout, and memory stays bounded by the window. A scan is not one
 *     snapshot: rows written meanwhile may or may not be seen.
 *  4. Answers are TabSeparated and parsed with strtoll/strtod; enums are
 *     read as numbers (toInt8) so no names need to be parsed back.
 */
#include <stdio.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"
#include "store/store_clickhouse_int.h"

#define DAY  FXP_MS_PER_DAY
#define PAGE 100000 /* keys per window (note 3) */

/* Note 2: a PRESENT bar (store.h). NaN compares false in ClickHouse. */
#define PRESENT_SQL                                                            \
    "open > 0 AND high > 0 AND low > 0 AND close > 0 AND volume >= 0"

static int64_t floor_day(int64_t ts)
{
    int64_t r = ts % DAY;

    if (r < 0)
        r += DAY;
    return ts >= INT64_MIN + r ? ts - r : INT64_MIN;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return b > 0 && a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int check_tf(struct fxp_store *s, fxp_tf tf)
{
    struct fxp__ch *c = s->impl;

    if ((unsigned)tf < FXP_TF_COUNT)
        return FXP_OK;
    snprintf(s->err, sizeof s->err,
             "cannot read from '%s': unknown timeframe %d", c->url, (int)tf);
    return FXP_EINVAL;
}

static int no_memory(struct fxp_store *s)
{
    struct fxp__ch *c = s->impl;

    snprintf(s->err, sizeof s->err, "cannot read from '%s': out of memory",
             c->url);
    return FXP_ENOMEM;
}

static int select_rows(struct fxp_store *s, int n_fields, fxp__ch_row_fn fn,
                       void *ud)
{
    return fxp__ch_select(s->impl, s->err, sizeof s->err, "read from", n_fields,
                          fn, ud);
}

/* "symbol = '...' AND timeframe = '..'" onto c->req. */
static int where_series(struct fxp__ch *c, const char *symbol, fxp_tf tf)
{
    return fxp__ch_sql(c, "symbol = ") || fxp__ch_sql_quote(c, symbol) ||
           fxp__ch_sql(c, " AND timeframe = '%s'", fxp_tf_name(tf));
}

/* ---- meta ---- */

struct meta_val {
    struct fxp_store *s;
    const char *key;
    char *val;
    size_t len;
    int found, rc;
};

static int on_meta(void *ud, char **f, int nf)
{
    struct meta_val *m = ud;
    struct fxp__ch *c = m->s->impl;
    size_t n = strlen(f[0]);

    (void)nf;
    m->found = 1;
    if (n >= m->len) {
        snprintf(m->s->err, sizeof m->s->err,
                 "cannot read meta '%s' from '%s': value of %zu bytes does "
                 "not fit",
                 m->key, c->url, n);
        m->rc = FXP_ETOOLARGE;
        n = m->len ? m->len - 1 : 0;
    }
    if (m->len) {
        memcpy(m->val, f[0], n);
        m->val[n] = '\0';
    }
    return 1;
}

int fxp__ch_meta_get(struct fxp_store *s, const char *key, char *val,
                     size_t len)
{
    struct fxp__ch *c = s->impl;
    struct meta_val m = {s, key, val, len, 0, FXP_OK};
    int rc;

    if (len)
        val[0] = '\0';
    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT value FROM meta FINAL WHERE key = ") ||
        fxp__ch_sql_quote(c, key) || fxp__ch_sql(c, " FORMAT TabSeparated"))
        return no_memory(s);
    rc = select_rows(s, 1, on_meta, &m);
    if (rc != FXP_OK)
        return rc;
    return !m.found ? FXP_ENOENT : m.rc;
}

/* ---- windowed scans (note 3) ---- */

struct window_scan {
    const char *table;  /* "bars" or "ledger" */
    const char *key;    /* its time column: "ts" or "day" */
    const char *inner;  /* columns read with FINAL */
    const char *outer;  /* what the outer query returns */
    const char *filter; /* outer WHERE (note 2), "1" for none */
    int n_fields;       /* of outer */
    int64_t step;       /* window width in ms */
    fxp__ch_row_fn fn;  /* per row; returns 1 once the caller stopped */
    void *ud;
};

static int on_bounds(void *ud, char **f, int nf)
{
    int64_t *v = ud;

    (void)nf;
    return fxp__ch_i64(f[0], &v[0]) || fxp__ch_i64(f[1], &v[1]) ||
                   fxp__ch_i64(f[2], &v[2])
               ? FXP_EIO
               : 1;
}

/* Rows of symbol/tf with key in [from, to), ascending, window by window. */
static int window_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                       int64_t from, int64_t to, const struct window_scan *w,
                       const int *stopped)
{
    struct fxp__ch *c = s->impl;
    int64_t b[3] = {0, 0, 0}; /* count, min, max */
    int rc;

    if (check_tf(s, tf) != FXP_OK)
        return FXP_EINVAL;
    if (from >= to)
        return FXP_OK;
    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT count(), min(%s), max(%s) FROM %s WHERE ",
                    w->key, w->key, w->table) ||
        where_series(c, symbol, tf) ||
        fxp__ch_sql(c, " AND %s >= %lld AND %s < %lld FORMAT TabSeparated",
                    w->key, (long long)from, w->key, (long long)to))
        return no_memory(s);
    rc = select_rows(s, 3, on_bounds, b);
    if (rc != FXP_OK || b[0] == 0)
        return rc;
    for (int64_t lo = b[1];;) {
        int64_t hi = sat_add(lo, w->step - 1);

        if (hi > b[2])
            hi = b[2];
        c->req.len = 0;
        if (fxp__ch_sql(c, "SELECT %s FROM (SELECT %s FROM %s FINAL WHERE ",
                        w->outer, w->inner, w->table) ||
            where_series(c, symbol, tf) ||
            fxp__ch_sql(c,
                        " AND %s >= %lld AND %s <= %lld) WHERE %s "
                        "ORDER BY %s FORMAT TabSeparated",
                        w->key, (long long)lo, w->key, (long long)hi, w->filter,
                        w->key))
            return no_memory(s);
        rc = select_rows(s, w->n_fields, w->fn, w->ud);
        if (rc != FXP_OK || *stopped || hi >= b[2])
            return rc;
        lo = hi + 1;
    }
}

struct bar_scan {
    const char *symbol;
    fxp_tf tf;
    fxp_store_bar_fn fn;
    void *ud;
    int stopped;
};

static int on_bar(void *ud, char **f, int nf)
{
    struct bar_scan *bs = ud;
    struct fxp_bar b = {.tf = (uint8_t)bs->tf};
    int64_t n_ticks, source;
    uint64_t version;

    (void)nf;
    if (fxp__ch_i64(f[0], &b.ts_ms) || fxp__ch_f64(f[1], &b.open) ||
        fxp__ch_f64(f[2], &b.high) || fxp__ch_f64(f[3], &b.low) ||
        fxp__ch_f64(f[4], &b.close) || fxp__ch_f64(f[5], &b.volume) ||
        fxp__ch_i64(f[6], &n_ticks) || fxp__ch_u64(f[7], &version) ||
        fxp__ch_i64(f[8], &source))
        return FXP_EIO;
    b.n_ticks = (uint32_t)n_ticks;
    b.version = (int64_t)version;
    b.source = (uint8_t)source;
    if (bs->fn(bs->ud, bs->symbol, &b)) {
        bs->stopped = 1;
        return 1;
    }
    return FXP_OK;
}

#define BAR_COLS "ts, open, high, low, close, volume, ticks, version, source"

int fxp__ch_scan_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud)
{
    struct bar_scan bs = {symbol, tf, fn, ud, 0};
    struct window_scan w = {
        "bars",
        "ts",
        BAR_COLS,
        "ts, open, high, low, close, volume, ticks, version, toInt8(source)",
        "1",
        9,
        0,
        on_bar,
        &bs};

    if ((unsigned)tf < FXP_TF_COUNT)
        w.step = fxp_tf_ms(tf) * PAGE;
    return window_scan(s, symbol, tf, from, to, &w, &bs.stopped);
}

struct ts_scan {
    fxp_store_ts_fn fn;
    void *ud;
    int stopped;
};

static int on_ts(void *ud, char **f, int nf)
{
    struct ts_scan *t = ud;
    int64_t ts;

    (void)nf;
    if (fxp__ch_i64(f[0], &ts))
        return FXP_EIO;
    if (t->fn(t->ud, ts)) {
        t->stopped = 1;
        return 1;
    }
    return FXP_OK;
}

int fxp__ch_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud)
{
    struct ts_scan t = {fn, ud, 0};
    struct window_scan w = {
        "bars", "ts",        "ts, open, high, low, close, volume",
        "ts",   PRESENT_SQL, 1,
        0,      on_ts,       &t};

    if ((unsigned)tf < FXP_TF_COUNT)
        w.step = fxp_tf_ms(tf) * PAGE;
    return window_scan(s, symbol, tf, from, to, &w, &t.stopped);
}

struct ledger_scan {
    struct fxp_store *s;
    const char *symbol;
    fxp_tf tf;
    fxp_store_ledger_fn fn;
    void *ud;
    int stopped;
};

static int on_entry(void *ud, char **f, int nf)
{
    struct ledger_scan *ls = ud;
    struct fxp__ch *c = ls->s->impl;
    struct fxp_ledger_entry e = {.tf = ls->tf};
    int64_t attempts, bars;

    (void)nf;
    if (fxp__ledger_state_parse(f[1], &e.state) != 0) {
        snprintf(ls->s->err, sizeof ls->s->err,
                 "cannot read from '%s': unknown ledger state '%.40s' in "
                 "table ledger",
                 c->url, f[1]);
        return FXP_EIO;
    }
    if (fxp__ch_i64(f[0], &e.day_ms) || fxp__ch_i64(f[2], &attempts) ||
        fxp__ch_i64(f[3], &bars))
        return FXP_EIO;
    snprintf(e.symbol, sizeof e.symbol, "%s", ls->symbol);
    e.attempts = (uint32_t)attempts;
    e.bars = (uint32_t)bars;
    snprintf(e.detail, sizeof e.detail, "%s", f[4]);
    if (ls->fn(ls->ud, &e)) {
        ls->stopped = 1;
        return 1;
    }
    return FXP_OK;
}

int fxp__ch_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_ledger_fn fn,
                        void *ud)
{
    struct ledger_scan ls = {s, symbol ? symbol : "", tf, fn, ud, 0};
    struct window_scan w = {"ledger",
                            "day",
                            "day, state, attempts, bars, detail",
                            "day, state, attempts, bars, detail",
                            "1",
                            5,
                            DAY * PAGE,
                            on_entry,
                            &ls};

    return window_scan(s, ls.symbol, tf, from, to, &w, &ls.stopped);
}

/* ---- coverage: present bars per UTC day, counted from the bars ---- */

struct days {
    fxp_store_day_fn fn;
    void *ud;
};

static int on_day(void *ud, char **f, int nf)
{
    struct days *d = ud;
    int64_t day;
    uint64_t n;

    (void)nf;
    if (fxp__ch_i64(f[0], &day) || fxp__ch_u64(f[1], &n))
        return FXP_EIO;
    return d->fn(d->ud, day, n) ? 1 : FXP_OK;
}

int fxp__ch_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_day_fn fn, void *ud)
{
    struct fxp__ch *c = s->impl;
    struct days d = {fn, ud};
    int64_t lo = floor_day(from), last;

    if (check_tf(s, tf) != FXP_OK)
        return FXP_EINVAL;
    /* Days d with floor_day(from) <= d < to, as the SQLite backend; the
     * last of them is floor_day(to - 1). */
    if (to == INT64_MIN || (last = floor_day(to - 1)) < lo)
        return FXP_OK;
    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT d, count() FROM (SELECT ts - ((ts %% "
                       "86400000) + 86400000) %% 86400000 AS d, open, high, "
                       "low, close, volume FROM bars FINAL WHERE ") ||
        where_series(c, symbol, tf) ||
        fxp__ch_sql(c,
                    " AND ts >= %lld AND ts <= %lld) WHERE " PRESENT_SQL
                    " GROUP BY d ORDER BY d FORMAT TabSeparated",
                    (long long)lo, (long long)sat_add(last, DAY - 1)))
        return no_memory(s);
    return select_rows(s, 2, on_day, &d);
}

/* ---- series, counts, reject summary ---- */

struct series {
    struct fxp_store *s;
    fxp_store_series_fn fn;
    void *ud;
};

static int on_series(void *ud, char **f, int nf)
{
    struct series *sr = ud;
    struct fxp_series_info i = {0};
    int64_t tf;

    (void)nf;
    if (fxp__ch_i64(f[1], &tf) || tf < 0 || tf >= FXP_TF_COUNT ||
        fxp__ch_u64(f[2], &i.count) || fxp__ch_i64(f[3], &i.first_ts) ||
        fxp__ch_i64(f[4], &i.last_ts))
        return FXP_EIO;
    snprintf(i.symbol, sizeof i.symbol, "%s", f[0]);
    i.tf = (fxp_tf)tf;
    return sr->fn(sr->ud, &i) ? 1 : FXP_OK;
}

int fxp__ch_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud)
{
    struct fxp__ch *c = s->impl;
    struct series sr = {s, fn, ud};

    /* An Enum8 sorts by its value: fxp_tf order. */
    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT symbol, toInt8(timeframe), count(), min(ts), "
                       "max(ts) FROM bars FINAL GROUP BY symbol, timeframe "
                       "ORDER BY symbol, timeframe FORMAT TabSeparated"))
        return no_memory(s);
    return select_rows(s, 5, on_series, &sr);
}

static int on_counts(void *ud, char **f, int nf)
{
    uint64_t *v = ud;

    (void)nf;
    return fxp__ch_u64(f[0], &v[0]) || fxp__ch_u64(f[1], &v[1]) ? FXP_EIO : 1;
}

int fxp__ch_counts(struct fxp_store *s, uint64_t *n_ticks, uint64_t *n_rejects)
{
    struct fxp__ch *c = s->impl;
    uint64_t v[2] = {0, 0};
    int rc;

    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT (SELECT count() FROM ticks FINAL), "
                       "(SELECT count() FROM rejects FINAL) "
                       "FORMAT TabSeparated"))
        return no_memory(s);
    rc = select_rows(s, 2, on_counts, v);
    *n_ticks = v[0];
    *n_rejects = v[1];
    return rc;
}

struct reasons {
    fxp_store_reason_fn fn;
    void *ud;
};

static int on_reason(void *ud, char **f, int nf)
{
    struct reasons *r = ud;
    uint64_t n;

    (void)nf;
    if (fxp__ch_u64(f[1], &n))
        return FXP_EIO;
    return r->fn(r->ud, f[0], n) ? 1 : FXP_OK;
}

int fxp__ch_reject_summary(struct fxp_store *s, fxp_store_reason_fn fn,
                           void *ud)
{
    struct fxp__ch *c = s->impl;
    struct reasons r = {fn, ud};

    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT reason, count() AS n FROM rejects FINAL "
                       "GROUP BY reason ORDER BY n DESC, reason "
                       "FORMAT TabSeparated"))
        return no_memory(s);
    return select_rows(s, 2, on_reason, &r);
}
