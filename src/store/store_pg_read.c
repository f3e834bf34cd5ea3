/*
 * store_pg_read.c - the PostgreSQL store's read-only ops: meta get, bar
 * scan, series, counts and the reject summary (docs/stores/postgresql.md).
 *
 * Design notes
 *
 *  1. Results come in binary: times are exact microseconds, doubles are
 *     bit for bit what was stored. NULL numbers read as 0, as SQLite's
 *     column accessors give them.
 *  2. Long scans go by pages of PAGE rows, each page one query continuing
 *     after the last time seen (keyset paging on the primary key): memory
 *     stays bounded for ten years of bars, a callback that stops early
 *     costs nothing more, and no statement outlives the call, so a callback
 *     may use the store itself.
 *  3. A symbol that is not valid UTF-8 cannot be stored, so asking for one
 *     finds nothing (rather than an encoding error from the server).
 *  4. Text sorts bytewise (the columns are COLLATE "C"), as SQLite sorts.
 */
#include <stdio.h>
#include <string.h>

#include "fxpipe/err.h"
#include "store/store_int.h"
#include "store/store_pg_int.h"

#define PAGE 8192

int fxp__pg_meta_get(struct fxp_store *s, const char *key, char *val,
                     size_t len)
{
    struct fxp__pg *q = s->impl;
    struct fxp__pg_params p = {0};
    PGresult *r;
    int rc;

    if (len)
        val[0] = '\0';
    rc = fxp__pg_ready(s, "read from");
    if (rc != FXP_OK)
        return rc;
    if (!key || !fxp__pg_utf8_valid(key))
        return FXP_ENOENT;
    fxp__pg_p_text(&p, key);
    rc = fxp__pg_exec(s, "SELECT value FROM meta WHERE key = $1", &p, &r,
                      "read from");
    if (rc != FXP_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return FXP_ENOENT;
    }
    const char *v = PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0);
    size_t n = PQgetisnull(r, 0, 0) ? 0 : (size_t)PQgetlength(r, 0, 0);
    if (n >= len) {
        snprintf(s->err, sizeof s->err,
                 "cannot read meta '%s' from '%s': value of %zu bytes does "
                 "not fit",
                 key, q->name, n);
        rc = FXP_ETOOLARGE;
        n = len ? len - 1 : 0;
    }
    if (len) {
        memcpy(val, v, n);
        val[n] = '\0';
    }
    PQclear(r);
    return rc;
}

int fxp__pg_check_tf(struct fxp_store *s, fxp_tf tf)
{
    struct fxp__pg *q = s->impl;

    if ((unsigned)tf < FXP_TF_COUNT)
        return FXP_OK;
    snprintf(s->err, sizeof s->err,
             "cannot read from '%s': unknown timeframe %d", q->name, (int)tf);
    return FXP_EINVAL;
}

int fxp__pg_page_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, const char *sql,
                      fxp__pg_row_fn row, void *ud)
{
    int64_t lo, hi;
    int rc = fxp__pg_check_tf(s, tf);

    if (rc == FXP_OK)
        rc = fxp__pg_ready(s, "read from");
    if (rc != FXP_OK || !symbol || !fxp__pg_utf8_valid(symbol) ||
        !fxp__pg_range_us(from, to, &lo, &hi))
        return rc;
    for (;;) {
        struct fxp__pg_params p = {0};
        PGresult *r;
        int rows;

        fxp__pg_p_text(&p, symbol);
        fxp__pg_p_text(&p, fxp_tf_name(tf));
        fxp__pg_p_ts_us(&p, lo);
        fxp__pg_p_ts_us(&p, hi);
        rc = fxp__pg_exec(s, sql, &p, &r, "read from");
        if (rc != FXP_OK)
            return rc;
        rows = PQntuples(r);
        for (int i = 0; i < rows; i++)
            if (row(ud, r, i)) {
                PQclear(r);
                return FXP_OK;
            }
        if (rows)
            lo = fxp__pg_get_ts_us(r, rows - 1, 0) + 1;
        PQclear(r);
        if (rows < PAGE)
            return FXP_OK;
    }
}

struct scan_ctx {
    const char *symbol;
    fxp_tf tf;
    fxp_store_bar_fn fn;
    void *ud;
};

static int scan_row(void *ud, PGresult *r, int i)
{
    struct scan_ctx *c = ud;
    struct fxp_bar b = {
        .ts_ms = fxp__pg_get_ts_ms(r, i, 0),
        .open = fxp__pg_get_float8(r, i, 1),
        .high = fxp__pg_get_float8(r, i, 2),
        .low = fxp__pg_get_float8(r, i, 3),
        .close = fxp__pg_get_float8(r, i, 4),
        .volume = fxp__pg_get_float8(r, i, 5),
        .n_ticks = (uint32_t)fxp__pg_get_int8(r, i, 6),
        .version = fxp__pg_get_int8(r, i, 7),
        .source = PQgetisnull(r, i, 8)
                      ? 0
                      : fxp__sqlite_source_parse(PQgetvalue(r, i, 8)),
        .tf = (uint8_t)c->tf,
    };
    return c->fn(c->ud, c->symbol, &b);
}

int fxp__pg_scan_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud)
{
    struct scan_ctx c = {symbol, tf, fn, ud};

    return fxp__pg_page_bars(
        s, symbol, tf, from, to,
        "SELECT ts, open, high, low, close, volume, n_ticks, version, source "
        "FROM bars WHERE symbol = $1 AND timeframe = $2 AND ts >= $3 AND "
        "ts < $4 ORDER BY ts LIMIT 8192",
        scan_row, &c);
}

int fxp__pg_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud)
{
    struct fxp__pg *q = s->impl;
    char sql[600];
    size_t n;
    PGresult *r;
    int rc = fxp__pg_ready(s, "read from");

    if (rc != FXP_OK)
        return rc;
    /* Ordered by symbol, then by fxp_tf rather than the timeframe's name,
     * as fxp__sqlite_series_sql orders them. */
    n = (size_t)snprintf(sql, sizeof sql,
                         "SELECT symbol, timeframe, count(*), min(ts), "
                         "max(ts) FROM bars GROUP BY symbol, timeframe "
                         "ORDER BY symbol, CASE timeframe");
    for (int tf = 0; tf < FXP_TF_COUNT && n < sizeof sql; tf++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " WHEN '%s' THEN %d",
                              fxp_tf_name((fxp_tf)tf), tf);
    if (n < sizeof sql)
        snprintf(sql + n, sizeof sql - n, " ELSE %d END", FXP_TF_COUNT);
    rc = fxp__pg_exec(s, sql, NULL, &r, "read from");
    if (rc != FXP_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        struct fxp_series_info info = {0};
        const char *tf = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1);

        if (!tf || fxp_tf_parse(tf, &info.tf) != FXP_OK) {
            snprintf(s->err, sizeof s->err,
                     "cannot read from '%s': unknown timeframe '%s' in table "
                     "bars",
                     q->name, tf ? tf : "NULL");
            rc = FXP_EIO;
            break;
        }
        snprintf(info.symbol, sizeof info.symbol, "%s", PQgetvalue(r, i, 0));
        info.count = (uint64_t)fxp__pg_get_int8(r, i, 2);
        info.first_ts = fxp__pg_get_ts_ms(r, i, 3);
        info.last_ts = fxp__pg_get_ts_ms(r, i, 4);
        if (fn(ud, &info))
            break;
    }
    PQclear(r);
    return rc;
}

int fxp__pg_counts(struct fxp_store *s, uint64_t *n_ticks, uint64_t *n_rejects)
{
    PGresult *r;
    int rc = fxp__pg_ready(s, "read from");

    if (rc == FXP_OK)
        rc = fxp__pg_exec(s,
                          "SELECT (SELECT count(*) FROM ticks), "
                          "(SELECT count(*) FROM rejects)",
                          NULL, &r, "read from");
    if (rc != FXP_OK)
        return rc;
    *n_ticks = (uint64_t)fxp__pg_get_int8(r, 0, 0);
    *n_rejects = (uint64_t)fxp__pg_get_int8(r, 0, 1);
    PQclear(r);
    return FXP_OK;
}

int fxp__pg_reject_summary(struct fxp_store *s, fxp_store_reason_fn fn,
                           void *ud)
{
    PGresult *r;
    int rc = fxp__pg_ready(s, "read from");

    if (rc == FXP_OK)
        rc = fxp__pg_exec(s,
                          "SELECT reason, count(*) FROM rejects GROUP BY "
                          "reason ORDER BY count(*) DESC, reason",
                          NULL, &r, "read from");
    if (rc != FXP_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        if (fn(ud, PQgetisnull(r, i, 0) ? "" : PQgetvalue(r, i, 0),
               (uint64_t)fxp__pg_get_int8(r, i, 1)))
            break;
    PQclear(r);
    return FXP_OK;
}
