/*
 * store_clickhouse.c - the ClickHouse store backend (docs/stores/
 * clickhouse.md): open and schema, tick retention and close. Writes (batches,
 * meta, ledger) are in store_clickhouse_write.c, reads in
 * store_clickhouse_read.c, the HTTP layer in store_clickhouse_http.c, SQL
 * text and answers in store_clickhouse_tsv.c.
 *
 * Design notes
 *
 *  1. Every table is a ReplacingMergeTree keyed like the SQLite tables, so
 *     storing a row again changes nothing a reader sees: bars keep the
 *     highest version (ReplacingMergeTree(version)); ticks and rejects are
 *     replaced by an identical copy; meta and ledger rows carry 'updated'
 *     (a microsecond counter, fxp__ch_next_updated) and the newest wins.
 *     Duplicates live on until a background merge; every read therefore
 *     uses FINAL, which merges them away at query time.
 *  2. ClickHouse has no transaction across tables (nor across the parts of
 *     one INSERT). fxp_store_write sends bars, then ticks, then rejects,
 *     then the meta key, each as INSERT ... FORMAT RowBinary. If one fails,
 *     the parts before it are stored and the call fails; the caller
 *     retries the whole batch, and by note 1 the retry stores nothing
 *     twice: delivery is at least once, storage idempotent. The meta key
 *     (a source cursor) goes last, so it never runs ahead of its data.
 *  3. A batch is checked whole before the first byte is sent: a malformed
 *     batch (a symbol id without a name, an unknown timeframe or source, a
 *     negative version, a reject without origin, the reserved meta key) is
 *     FXP_EINVAL and stores nothing.
 *  4. Rows are encoded into the handle's one request buffer, reused by
 *     every call; large batches go out in CHUNK-sized inserts, so memory
 *     stays bounded and each insert is still idempotent.
 *  5. Retention (18.16 has no TTL): ticks are partitioned by UTC day and
 *     prune_ticks drops whole days that end at or before (newest tick -
 *     retention): up to one day more than the retention is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"
#include "store/store_clickhouse_int.h"

#define DAY FXP_MS_PER_DAY

/* Append CREATE TABLE statement i (of N_TABLES) to c->req; tf and src are
 * the Enum8 types of timeframes and sources. Day partitions are computed
 * from the integer ms, so they do not depend on the server's time zone. */
#define N_TABLES 5
static int table_sql(struct fxp__ch *c, int i, const char *tf, const char *src)
{
    switch (i) {
    case 0:
        return fxp__ch_sql(
            c,
            "CREATE TABLE IF NOT EXISTS bars ("
            " symbol String, timeframe %s, ts Int64,"
            " open Float64, high Float64, low Float64, close Float64,"
            " volume Float64, ticks UInt32, version UInt64, source %s,"
            " time DateTime ALIAS toDateTime(intDiv(ts, 1000)))"
            " ENGINE = ReplacingMergeTree(version)"
            " PARTITION BY toYYYYMM(toDate(intDiv(ts, 86400000)))"
            " ORDER BY (symbol, timeframe, ts)",
            tf, src);
    case 1:
        return fxp__ch_sql(c,
                           "CREATE TABLE IF NOT EXISTS ticks ("
                           " symbol String, ts Int64, bid Float64, ask Float64,"
                           " volume Float64,"
                           " time DateTime ALIAS toDateTime(intDiv(ts, 1000)))"
                           " ENGINE = ReplacingMergeTree()"
                           " PARTITION BY toDate(intDiv(ts, 86400000))"
                           " ORDER BY (symbol, ts, bid, ask)");
    case 2:
        return fxp__ch_sql(
            c, "CREATE TABLE IF NOT EXISTS rejects ("
               " origin String, ts Int64, symbol String, reason String,"
               " detail String, raw String)"
               " ENGINE = ReplacingMergeTree() ORDER BY origin");
    case 3:
        return fxp__ch_sql(
            c, "CREATE TABLE IF NOT EXISTS meta ("
               " key String, value String, updated UInt64)"
               " ENGINE = ReplacingMergeTree(updated) ORDER BY key");
    default:
        return fxp__ch_sql(
            c,
            "CREATE TABLE IF NOT EXISTS ledger ("
            " symbol String, timeframe %s, day Int64, state String,"
            " attempts UInt32, bars UInt32, detail String, updated UInt64)"
            " ENGINE = ReplacingMergeTree(updated)"
            " ORDER BY (symbol, timeframe, day)",
            tf);
    }
}

/* UTC midnight at or before ts (floor for negative times too). */
static int64_t floor_day(int64_t ts)
{
    int64_t r = ts % DAY;

    if (r < 0)
        r += DAY;
    return ts >= INT64_MIN + r ? ts - r : INT64_MIN;
}

static int no_memory(struct fxp_store *s, const char *what)
{
    struct fxp__ch *c = s->impl;

    snprintf(s->err, sizeof s->err, "cannot %s '%s': out of memory", what,
             c->url);
    return FXP_ENOMEM;
}

/* Row handler: two integers of one row (a count and a maximum). */
static int on_two_i64(void *ud, char **f, int nf)
{
    int64_t *v = ud;

    (void)nf;
    return fxp__ch_i64(f[0], &v[0]) || fxp__ch_i64(f[1], &v[1]) ? FXP_EIO : 1;
}

/* Row handler: one integer. */
static int on_count(void *ud, char **f, int nf)
{
    (void)nf;
    return fxp__ch_i64(f[0], ud) ? FXP_EIO : 1;
}

/* Row handler: drop the partition named by the row's id (the answer is
 * detached, so the handle is free for the ALTER). */
static int drop_part(void *ud, char **f, int nf)
{
    struct fxp_store *s = ud;
    struct fxp__ch *c = s->impl;
    size_t n = strlen(f[0]);

    (void)nf;
    if (!n || n > 8 || strspn(f[0], "0123456789") != n) {
        snprintf(s->err, sizeof s->err,
                 "cannot prune ticks in '%s': unexpected partition '%.20s'",
                 c->url, f[0]);
        return FXP_EIO;
    }
    c->req.len = 0;
    if (fxp__ch_sql(c, "ALTER TABLE ticks DROP PARTITION ID '%s'", f[0]))
        return no_memory(s, "prune ticks in");
    return fxp__ch_exec(c, s->err, sizeof s->err, "prune ticks in", 0);
}

/* Note 5: the partitions (days, YYYYMMDD) before the day of the cut hold
 * only ticks older than the cut; system.parts lists them. */
static int ch_prune_ticks(struct fxp_store *s, uint64_t *n_deleted)
{
    struct fxp__ch *c = s->impl;
    const char *what = "prune ticks in";
    int64_t v[2] = {0, 0}; /* count, newest */
    struct fxp_civil cv;
    long ymd;
    int rc;

    *n_deleted = 0;
    if (s->opts.tick_retention_ms <= 0)
        return FXP_OK;
    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT count(), max(ts) FROM ticks "
                       "FORMAT TabSeparated"))
        return no_memory(s, what);
    rc = fxp__ch_select(c, s->err, sizeof s->err, what, 2, on_two_i64, v);
    if (rc != FXP_OK || v[0] == 0 ||
        v[1] < INT64_MIN + s->opts.tick_retention_ms)
        return rc;
    fxp_time_to_civil(floor_day(v[1] - s->opts.tick_retention_ms), &cv);
    ymd = (long)cv.year * 10000 + cv.month * 100 + cv.day;
    if (ymd <= 19700101)
        return FXP_OK; /* the first partition holds all earlier times */

    c->req.len = 0;
    if (fxp__ch_sql(c,
                    "SELECT count() FROM (SELECT ts FROM ticks FINAL "
                    "WHERE toYYYYMMDD(toDate(intDiv(ts, 86400000))) < %ld) "
                    "FORMAT TabSeparated",
                    ymd))
        return no_memory(s, what);
    rc = fxp__ch_select(c, s->err, sizeof s->err, what, 1, on_count, &v[0]);
    if (rc != FXP_OK)
        return rc;
    c->req.len = 0;
    if (fxp__ch_sql(c,
                    "SELECT partition_id FROM system.parts "
                    "WHERE database = '%s' AND table = 'ticks' AND active "
                    "GROUP BY partition_id "
                    "HAVING toUInt32OrZero(partition_id) < %ld "
                    "ORDER BY partition_id FORMAT TabSeparated",
                    c->db, ymd))
        return no_memory(s, what);
    rc = fxp__ch_select(c, s->err, sizeof s->err, what, 1, drop_part, s);
    if (rc == FXP_OK)
        *n_deleted = (uint64_t)v[0];
    return rc;
}

static void ch_close(void *impl)
{
    fxp__ch_release(impl);
    free(impl);
}

static const struct fxp_store_ops clickhouse_ops = {
    .name = "clickhouse",
    .write = fxp__ch_write,
    .prune_ticks = ch_prune_ticks,
    .meta_get = fxp__ch_meta_get,
    .scan_bars = fxp__ch_scan_bars,
    .series = fxp__ch_series,
    .counts = fxp__ch_counts,
    .reject_summary = fxp__ch_reject_summary,
    .coverage = fxp__ch_coverage,
    .presence = NULL, /* store.c: coverage without bitmaps */
    .present = fxp__ch_present,
    .rescan_coverage = NULL, /* coverage is counted from the bars */
    .ledger_put = fxp__ch_ledger_put,
    .ledger_scan = fxp__ch_ledger_scan,
    .close = ch_close,
};

/* Run the SQL built in c->req at open; failures into errbuf. */
static int open_exec(struct fxp__ch *c, char *errbuf, size_t errlen, int no_db)
{
    return fxp__ch_exec(c, errbuf, errlen, "open store",
                        no_db ? FXP__CH_NO_DB : 0);
}

static int on_version(void *ud, char **f, int nf)
{
    (void)nf;
    snprintf(ud, 64, "%s", f[0]);
    return 1;
}

/* Create the database and tables when missing; check or record the
 * schema version. */
static int setup(struct fxp_store *s, char *errbuf, size_t errlen)
{
    struct fxp__ch *c = s->impl;
    char tf_enum[160], src_enum[96], ver[64] = "";
    size_t n;
    int rc;

    n = (size_t)snprintf(tf_enum, sizeof tf_enum, "Enum8(");
    for (int tf = 0; tf < FXP_TF_COUNT; tf++)
        n += (size_t)snprintf(tf_enum + n, sizeof tf_enum - n, "%s'%s' = %d",
                              tf ? ", " : "", fxp_tf_name((fxp_tf)tf), tf);
    snprintf(tf_enum + n, sizeof tf_enum - n, ")");
    n = (size_t)snprintf(src_enum, sizeof src_enum, "Enum8(");
    for (unsigned i = 1; fxp__sqlite_source_name(i); i++)
        n += (size_t)snprintf(src_enum + n, sizeof src_enum - n, "%s'%s' = %u",
                              i > 1 ? ", " : "", fxp__sqlite_source_name(i), i);
    snprintf(src_enum + n, sizeof src_enum - n, ")");

    c->req.len = 0;
    if (fxp__ch_sql(c, "CREATE DATABASE IF NOT EXISTS `%s`", c->db))
        return FXP_ENOMEM;
    rc = open_exec(c, errbuf, errlen, 1);
    for (int i = 0; rc == FXP_OK && i < N_TABLES; i++) {
        c->req.len = 0;
        if (table_sql(c, i, tf_enum, src_enum))
            return FXP_ENOMEM;
        rc = open_exec(c, errbuf, errlen, 0);
    }
    if (rc != FXP_OK)
        return rc;

    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT value FROM meta FINAL WHERE key = "
                       "'schema_version' FORMAT TabSeparated"))
        return FXP_ENOMEM;
    rc = fxp__ch_select(c, errbuf, errlen, "open store", 1, on_version, ver);
    if (rc != FXP_OK)
        return rc;
    if (!ver[0]) {
        snprintf(ver, sizeof ver, "%d", FXP__CH_SCHEMA_VERSION);
        return fxp__ch_put_meta(s, "schema_version", ver, errbuf, errlen,
                                "open store");
    }
    int64_t v;
    if (fxp__ch_i64(ver, &v) || v < 1) {
        snprintf(errbuf, errlen,
                 "cannot open store '%s': bad schema_version '%s' in table "
                 "meta",
                 c->url, ver);
        return FXP_EIO;
    }
    if (v > FXP__CH_SCHEMA_VERSION) {
        snprintf(errbuf, errlen,
                 "cannot open store '%s': schema version %lld is newer than "
                 "this fxpipe supports (%d)",
                 c->url, (long long)v, FXP__CH_SCHEMA_VERSION);
        return FXP_EIO;
    }
    return FXP_OK;
}

/* Tell the caller what kind of store it got (opts.on_note). */
static void note(struct fxp_store *s)
{
    struct fxp__ch *c = s->impl;
    char ver[64] = "", msg[256];

    if (!s->opts.on_note)
        return;
    c->req.len = 0;
    if (fxp__ch_sql(c, "SELECT version() FORMAT TabSeparated") ||
        fxp__ch_select(c, msg, sizeof msg, "open store", 1, on_version, ver) !=
            FXP_OK)
        snprintf(ver, sizeof ver, "unknown");
    snprintf(msg, sizeof msg,
             "ClickHouse %s at '%s': writes are at least once and "
             "idempotent (no transactions across tables), reads use FINAL",
             ver, c->url);
    s->opts.on_note(s->opts.note_ud, msg);
}

int fxp__store_open_clickhouse(struct fxp_store *s, const char *url,
                               char *errbuf, size_t errlen)
{
    struct fxp__ch *c = calloc(1, sizeof *c);
    int rc;

    if (!c) {
        snprintf(errbuf, errlen, "cannot open store '%s': out of memory", url);
        return FXP_ENOMEM;
    }
    rc = fxp__ch_init(c, url, &s->opts, errbuf, errlen);
    if (rc == FXP_OK) {
        s->impl = c;
        rc = setup(s, errbuf, errlen);
        if (rc == FXP_ENOMEM)
            snprintf(errbuf, errlen, "cannot open store '%s': out of memory",
                     c->url);
    }
    if (rc != FXP_OK) {
        s->impl = NULL;
        ch_close(c);
        return rc;
    }
    s->ops = &clickhouse_ops;
    note(s);
    return FXP_OK;
}
