/*
 * store_sqlite.c - the SQLite store backend (docs/internals/store.md):
 * open, write, prune and close. The read-only ops are in
 * store_sqlite_read.c, connection setup and migrations in
 * store_sqlite_schema.c, coverage and the ledger in store_sqlite_gaps.c.
 *
 * Design notes
 *
 *  1. One connection per handle, in WAL mode with synchronous=NORMAL
 *     (store_sqlite_schema.c). Every statement is prepared once at open
 *     and kept until close; a statement is always reset before its
 *     function returns, so no read transaction outlives a call.
 *  2. fxp_store_write is one transaction: BEGIN IMMEDIATE, bars, ticks,
 *     rejects, meta, COMMIT. The first failure of any step rolls the whole
 *     batch back (when SQLite has not already done so) and maps the code:
 *     SQLITE_FULL -> FXP_ENOSPC, SQLITE_BUSY/LOCKED -> FXP_ETIMEDOUT,
 *     anything else FXP_EIO; a malformed batch (a symbol id without a name,
 *     an unknown timeframe or source, a reject without origin) is
 *     FXP_EINVAL. Either way nothing of the batch is stored and the handle
 *     is ready for the next batch.
 *  3. Bars are upserted "WHERE excluded.version > bars.version": a lower or
 *     equal version changes nothing, so re-writing a batch is a no-op and
 *     the file stays byte-identical. Ticks and rejects are INSERT OR
 *     IGNORE on their keys for the same reason.
 *  4. The bar statement's symbol, timeframe and source parameters are
 *     rebound only when they change from the previous bar (bindings
 *     survive sqlite3_reset). They point into the batch's symtab and at
 *     static strings (SQLITE_STATIC); the cache is invalidated at the start
 *     of each batch and the bindings cleared at its end, so no pointer into
 *     a caller's memory is used after fxp_store_write returns.
 *  5. Coverage (bars per symbol, timeframe and UTC day) is kept in the
 *     write's transaction. The bar upsert's update branch calls the C
 *     function fxp_revised(), which counts the revision and raises a flag
 *     on the handle; so after a step, "one row changed and no flag" means
 *     a new bar, "flag" an update, "no change" an ignored write. (RETURNING
 *     would say the same but halves the write rate in SQLite 3.40.) New bars
 * are counted per day in C (store_sqlite_gaps.c) and added to the coverage
 * table once per distinct day at the end of the bars, so the coverage costs one
 * small upsert per day, not per bar. Coverage, present bars and the ledger live
 * in store_sqlite_gaps.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "store/store_int.h"
#include "store/store_sqlite_int.h"

static const char *const sql_text[FXP__ST_COUNT] = {
    [FXP__ST_BEGIN] = "BEGIN IMMEDIATE",
    [FXP__ST_COMMIT] = "COMMIT",
    [FXP__ST_ROLLBACK] = "ROLLBACK",
    [FXP__ST_BAR] = "INSERT INTO bars(symbol, timeframe, ts, open, high, low, "
                    "close, volume, ticks, version, source) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                    "ON CONFLICT(symbol, timeframe, ts) DO UPDATE SET "
                    "open = excluded.open, high = excluded.high, "
                    "low = excluded.low, close = excluded.close, "
                    "volume = excluded.volume, ticks = excluded.ticks, "
                    "version = excluded.version, source = excluded.source, "
                    "revisions = fxp_revised(bars.revisions) "
                    "WHERE excluded.version > bars.version",
    [FXP__ST_TICK] =
        "INSERT OR IGNORE INTO ticks(symbol, ts, bid, ask, volume) "
        "VALUES(?1, ?2, ?3, ?4, ?5)",
    [FXP__ST_REJECT] =
        "INSERT OR IGNORE INTO rejects(origin, ts, symbol, reason, "
        "detail, raw) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [FXP__ST_META_PUT] =
        "INSERT INTO meta(key, value) VALUES(?1, ?2) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value "
        "WHERE value IS NOT excluded.value",
    [FXP__ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [FXP__ST_SCAN] =
        "SELECT ts, open, high, low, close, volume, ticks, version, "
        "source FROM bars WHERE symbol = ?1 AND timeframe = ?2 "
        "AND ts >= ?3 AND ts < ?4 ORDER BY ts",
    [FXP__ST_SERIES] = NULL, /* fxp__sqlite_series_sql() */
    [FXP__ST_COUNTS] = "SELECT (SELECT count(*) FROM ticks), "
                       "(SELECT count(*) FROM rejects)",
    [FXP__ST_REASONS] = "SELECT reason, count(*) FROM rejects GROUP BY reason "
                        "ORDER BY count(*) DESC, reason",
    [FXP__ST_PRUNE] =
        "DELETE FROM ticks WHERE ts < (SELECT max(ts) FROM ticks) "
        "- ?1",
};

/* SQL function fxp_revised(n) = n + 1, flagging the update (note 5). */
static void sql_revised(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct fxp__sq *q = sqlite3_user_data(ctx);
    q->revised = 1;
    sqlite3_result_int64(ctx, sqlite3_value_int64(argv[0]) + 1);
}

/* Describe a failed SQLite call as "cannot <what> 'PATH': <errmsg>", roll
 * back an open transaction and return the mapped fxp_err. */
int fxp__sq_fail_sql(struct fxp_store *s, int rc, const char *what)
{
    struct fxp__sq *q = s->impl;

    snprintf(s->err, sizeof s->err, "cannot %s '%s': %s", what, q->path,
             sqlite3_errmsg(q->db));
    if (!sqlite3_get_autocommit(q->db)) {
        sqlite3_step(q->st[FXP__ST_ROLLBACK]);
        sqlite3_reset(q->st[FXP__ST_ROLLBACK]);
    }
    return fxp__sqlite_err(rc);
}

/* A malformed batch: roll back and return FXP_EINVAL; s->err is set. */
static int fail_batch(struct fxp_store *s)
{
    struct fxp__sq *q = s->impl;

    if (!sqlite3_get_autocommit(q->db)) {
        sqlite3_step(q->st[FXP__ST_ROLLBACK]);
        sqlite3_reset(q->st[FXP__ST_ROLLBACK]);
    }
    return FXP_EINVAL;
}

/* Step a statement that returns no rows and reset it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_bars(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_BAR];
    uint32_t last_sym = 0;
    unsigned last_tf = ~0u, last_src = ~0u; /* match no uint8_t */
    int have_sym = 0, rc;

    for (size_t i = 0; i < b->n_bars; i++) {
        const struct fxp_bar *bar = &b->bars[i];

        rc = SQLITE_OK;
        if (!have_sym || bar->sym != last_sym) {
            const char *name = fxp_symtab_name(b->symtab, bar->sym);
            if (!name) {
                snprintf(s->err, sizeof s->err,
                         "cannot write to '%s': bar %zu has symbol id %u "
                         "with no name",
                         q->path, i, (unsigned)bar->sym);
                return FXP_EINVAL;
            }
            rc |= fxp__sq_bind_text(st, 1, name);
            last_sym = bar->sym;
            have_sym = 1;
        }
        if (bar->tf != last_tf) {
            if (bar->tf >= FXP_TF_COUNT) {
                snprintf(s->err, sizeof s->err,
                         "cannot write to '%s': bar %zu has unknown "
                         "timeframe %u",
                         q->path, i, (unsigned)bar->tf);
                return FXP_EINVAL;
            }
            rc |= fxp__sq_bind_text(st, 2, fxp_tf_name((fxp_tf)bar->tf));
            last_tf = bar->tf;
        }
        if (bar->source != last_src) {
            const char *src = fxp__sqlite_source_name(bar->source);
            if (!src) {
                snprintf(s->err, sizeof s->err,
                         "cannot write to '%s': bar %zu has unknown source "
                         "%u",
                         q->path, i, (unsigned)bar->source);
                return FXP_EINVAL;
            }
            rc |= fxp__sq_bind_text(st, 11, src);
            last_src = bar->source;
        }
        rc |= sqlite3_bind_int64(st, 3, bar->ts_ms);
        rc |= sqlite3_bind_double(st, 4, bar->open);
        rc |= sqlite3_bind_double(st, 5, bar->high);
        rc |= sqlite3_bind_double(st, 6, bar->low);
        rc |= sqlite3_bind_double(st, 7, bar->close);
        rc |= sqlite3_bind_double(st, 8, bar->volume);
        rc |= sqlite3_bind_int64(st, 9, bar->n_ticks);
        rc |= sqlite3_bind_int64(st, 10, bar->version);
        q->revised = 0;
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        /* Note 5: a change without the flag is a new bar. */
        if (rc == SQLITE_DONE && !q->revised && sqlite3_changes(q->db) == 1)
            rc = fxp__sqgaps_count(q->g, bar, b->symtab);
        sqlite3_reset(st);
        if (rc != SQLITE_OK && rc != SQLITE_DONE)
            return fxp__sq_fail_sql(s, rc, "write to");
    }
    rc = fxp__sqgaps_flush(q->g, b->symtab);
    return rc == SQLITE_OK ? FXP_OK : fxp__sq_fail_sql(s, rc, "write to");
}

static int write_ticks(struct fxp_store *s, const struct fxp_store_batch *b,
                       size_t n_ticks)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_TICK];
    uint32_t last_sym = 0;
    int have_sym = 0;

    for (size_t i = 0; i < n_ticks; i++) {
        const struct fxp_tick *t = &b->ticks[i];
        int rc = SQLITE_OK;

        if (!have_sym || t->sym != last_sym) {
            const char *name = fxp_symtab_name(b->symtab, t->sym);
            if (!name) {
                snprintf(s->err, sizeof s->err,
                         "cannot write to '%s': tick %zu has symbol id %u "
                         "with no name",
                         q->path, i, (unsigned)t->sym);
                return FXP_EINVAL;
            }
            rc |= fxp__sq_bind_text(st, 1, name);
            last_sym = t->sym;
            have_sym = 1;
        }
        rc |= sqlite3_bind_int64(st, 2, t->ts_ms);
        rc |= sqlite3_bind_double(st, 3, t->bid);
        rc |= sqlite3_bind_double(st, 4, t->ask);
        rc |= sqlite3_bind_double(st, 5, t->volume);
        if (rc == SQLITE_OK)
            rc = step_done(st);
        if (rc != SQLITE_OK)
            return fxp__sq_fail_sql(s, rc, "write to");
    }
    return FXP_OK;
}

static int write_rejects(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_REJECT];

    for (size_t i = 0; i < b->n_rejects; i++) {
        const struct fxp_reject *r = &b->rejects[i];
        int rc = SQLITE_OK;

        if (!r->origin || !r->origin[0]) {
            snprintf(s->err, sizeof s->err,
                     "cannot write to '%s': reject %zu has no origin", q->path,
                     i);
            return FXP_EINVAL;
        }
        rc |= fxp__sq_bind_text(st, 1, r->origin);
        rc |= sqlite3_bind_int64(st, 2, r->ts_ms);
        rc |= fxp__sq_bind_text(st, 3, r->symbol ? r->symbol : "");
        rc |= fxp__sq_bind_text(st, 4, fxp_reason_name(r->reason));
        rc |= fxp__sq_bind_text(st, 5, r->detail);
        rc |= fxp__sq_bind_text(st, 6, r->raw);
        if (rc == SQLITE_OK)
            rc = step_done(st);
        if (rc != SQLITE_OK)
            return fxp__sq_fail_sql(s, rc, "write to");
    }
    return FXP_OK;
}

static int write_meta(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_META_PUT];
    int rc;

    rc = fxp__sq_bind_text(st, 1, b->meta_key);
    rc |= fxp__sq_bind_text(st, 2, b->meta_value ? b->meta_value : "");
    if (rc == SQLITE_OK)
        rc = step_done(st);
    return rc == SQLITE_OK ? FXP_OK : fxp__sq_fail_sql(s, rc, "write to");
}

static int sq_write(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__sq *q = s->impl;
    size_t n_ticks = s->opts.keep_ticks ? b->n_ticks : 0;
    int rc;

    if (b->meta_key && !strcmp(b->meta_key, "schema_version")) {
        snprintf(s->err, sizeof s->err,
                 "cannot write to '%s': meta key 'schema_version' is "
                 "reserved",
                 q->path);
        return FXP_EINVAL;
    }
    if ((b->n_bars || n_ticks) && !b->symtab) {
        snprintf(s->err, sizeof s->err,
                 "cannot write to '%s': batch has bars or ticks but no "
                 "symbol table",
                 q->path);
        return FXP_EINVAL;
    }
    if (!b->n_bars && !n_ticks && !b->n_rejects && !b->meta_key)
        return FXP_OK;

    fxp__sqgaps_begin(q->g);
    rc = step_done(q->st[FXP__ST_BEGIN]);
    if (rc != SQLITE_OK)
        return fxp__sq_fail_sql(s, rc, "write to");
    rc = write_bars(s, b);
    if (rc == FXP_OK)
        rc = write_ticks(s, b, n_ticks);
    if (rc == FXP_OK)
        rc = write_rejects(s, b);
    if (rc == FXP_OK && b->meta_key)
        rc = write_meta(s, b);
    if (rc == FXP_OK) {
        int src = step_done(q->st[FXP__ST_COMMIT]);
        if (src != SQLITE_OK)
            rc = fxp__sq_fail_sql(s, src, "write to");
    } else if (rc == FXP_EINVAL) {
        fail_batch(s);
    }
    /* Note 4: drop the pointers into the caller's symtab and batch. */
    sqlite3_clear_bindings(q->st[FXP__ST_BAR]);
    sqlite3_clear_bindings(q->st[FXP__ST_TICK]);
    sqlite3_clear_bindings(q->st[FXP__ST_REJECT]);
    sqlite3_clear_bindings(q->st[FXP__ST_META_PUT]);
    return rc;
}

static int sq_prune_ticks(struct fxp_store *s, uint64_t *n_deleted)
{
    struct fxp__sq *q = s->impl;
    sqlite3_stmt *st = q->st[FXP__ST_PRUNE];
    int rc;

    *n_deleted = 0;
    if (s->opts.tick_retention_ms <= 0)
        return FXP_OK;
    rc = sqlite3_bind_int64(st, 1, s->opts.tick_retention_ms);
    if (rc == SQLITE_OK)
        rc = step_done(st);
    if (rc != SQLITE_OK)
        return fxp__sq_fail_sql(s, rc, "prune ticks in");
    *n_deleted = (uint64_t)sqlite3_changes64(q->db);
    return FXP_OK;
}

static void sq_close(void *impl)
{
    struct fxp__sq *q = impl;

    fxp__sqgaps_close(q->g);
    for (int i = 0; i < FXP__ST_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close(q->db);
    free(q->path);
    free(q);
}

static const struct fxp_store_ops sqlite_ops = {
    .name = "sqlite",
    .write = sq_write,
    .prune_ticks = sq_prune_ticks,
    .meta_get = fxp__sq_meta_get,
    .scan_bars = fxp__sq_scan_bars,
    .series = fxp__sq_series,
    .counts = fxp__sq_counts,
    .reject_summary = fxp__sq_reject_summary,
    .coverage = fxp__sq_coverage,
    .presence = fxp__sq_presence,
    .present = fxp__sq_present,
    .rescan_coverage = fxp__sq_rescan_coverage,
    .ledger_put = fxp__sq_ledger_put,
    .ledger_scan = fxp__sq_ledger_scan,
    .close = sq_close,
};

int fxp__store_open_sqlite(struct fxp_store *s, const char *path, char *errbuf,
                           size_t errlen)
{
    char series[512];
    struct fxp__sq *q;
    size_t n = strlen(path);
    int rc;

    q = calloc(1, sizeof *q);
    if (q)
        q->path = malloc(n + 1);
    if (!q || !q->path) {
        free(q);
        snprintf(errbuf, errlen, "cannot open database '%s': out of memory",
                 path);
        return FXP_ENOMEM;
    }
    memcpy(q->path, path, n + 1);

    /* NOMUTEX: a handle is used by one thread at a time (store.h). */
    rc = sqlite3_open_v2(
        path, &q->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot open database '%s': %s", path,
                 q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        rc = rc == SQLITE_NOMEM ? FXP_ENOMEM : FXP_EIO;
        goto fail;
    }
    rc = fxp__sqlite_setup(q->db, path, &s->opts, errbuf, errlen);
    if (rc != FXP_OK)
        goto fail;
    if (sqlite3_create_function(q->db, "fxp_revised", 1,
                                SQLITE_UTF8 | SQLITE_DIRECTONLY, q, sql_revised,
                                NULL, NULL) != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot open database '%s': %s", path,
                 sqlite3_errmsg(q->db));
        rc = FXP_EIO;
        goto fail;
    }

    fxp__sqlite_series_sql(series, sizeof series);
    for (int i = 0; i < FXP__ST_COUNT; i++) {
        const char *sql = i == FXP__ST_SERIES ? series : sql_text[i];
        int prc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                     &q->st[i], NULL);
        if (prc != SQLITE_OK) {
            snprintf(errbuf, errlen, "cannot open database '%s': %s", path,
                     sqlite3_errmsg(q->db));
            rc = fxp__sqlite_err(prc);
            goto fail;
        }
    }
    rc = fxp__sqgaps_open(q->db, q->path, &q->g);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot open database '%s': %s", path,
                 rc == SQLITE_NOMEM ? sqlite3_errstr(rc)
                                    : sqlite3_errmsg(q->db));
        rc = rc == SQLITE_NOMEM ? FXP_ENOMEM : fxp__sqlite_err(rc);
        goto fail;
    }
    s->ops = &sqlite_ops;
    s->impl = q;
    return FXP_OK;

fail:
    /* A file that is not a database is reported by the first statement;
     * whatever SQLite said, opening failed, so it is an I/O error unless
     * the file was merely locked. */
    if (rc != FXP_ETIMEDOUT && rc != FXP_ENOMEM && rc != FXP_ENOSPC)
        rc = FXP_EIO;
    sq_close(q);
    return rc;
}

struct sqlite3 *fxp__store_sqlite_db(struct fxp_store *s)
{
    return s && s->ops == &sqlite_ops ? ((struct fxp__sq *)s->impl)->db : NULL;
}

struct fxp__sqgaps *fxp__sqlite_gaps(struct fxp_store *s)
{
    return ((struct fxp__sq *)s->impl)->g;
}
