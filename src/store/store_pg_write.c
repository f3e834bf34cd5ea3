/*
 * store_pg_write.c - fxp_store_write for PostgreSQL: one transaction per
 * batch, rows sent with binary COPY (docs/stores/postgresql.md).
 *
 * Design notes
 *
 *  1. A batch is checked whole before anything is sent (symbol ids with
 *     names, timeframes, sources, times timestamptz can hold, reject
 *     origins, the reserved meta key): a malformed batch is FXP_EINVAL
 *     and never reaches the server.
 *  2. Then BEGIN, bars, ticks, rejects, meta, COMMIT. Bars, ticks and
 *     rejects are COPYed (binary format, from one reusable buffer flushed
 *     with PQputCopyData when full) into TEMP staging tables created once
 *     per connection with ON COMMIT DELETE ROWS, then moved with one
 *     INSERT ... SELECT each: bars ON CONFLICT (symbol, timeframe, ts) DO
 *     UPDATE ... WHERE EXCLUDED.version > bars.version, ticks and rejects
 *     ON CONFLICT DO NOTHING. On any failure the transaction is rolled
 *     back: nothing of the batch is stored.
 *  3. Append fast path. An upsert costs about twice a plain COPY, and most
 *     bars are new: for each series (symbol, timeframe) the handle keeps
 *     the newest bar time the server holds (asked for once, in one query
 *     for all series of a batch it has not seen, and advanced after each
 *     commit). Bars newer than that cannot conflict, so they are COPYed
 *     straight into bars in the same transaction; the rest go through the
 *     staging upsert. If another writer added rows meanwhile, that COPY
 *     fails with a unique violation (23505): the transaction is rolled
 *     back, the memory dropped and the batch written again, all staged.
 *  4. Duplicate keys inside one batch are resolved in C before sending (a
 *     hash of (symbol id, timeframe, ts) over the batch): the highest
 *     version wins, the first on a tie, as row-by-row upserts would do.
 *     One INSERT ... ON CONFLICT DO UPDATE may not touch a row twice.
 *  5. NaN prices and volumes are stored as NULL and read back as 0, as
 *     SQLite does. Reject texts are stored as valid UTF-8 (a text column
 *     refuses anything else): bytes that are not become "\xNN".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "store/store_int.h"
#include "store/store_pg_int.h"

#define BUF_INIT (256 * 1024)

#define BAR_COLS                                                               \
    "symbol, timeframe, ts, open, high, low, close, volume, n_ticks, "         \
    "version, source"

static const char stage_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS fxp_stage_bars(symbol text COLLATE "
    "\"C\", timeframe text COLLATE \"C\", ts timestamptz, open float8, high "
    "float8, low float8, close float8, volume float8, n_ticks bigint, "
    "version bigint, source text COLLATE \"C\") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS fxp_stage_ticks(symbol text COLLATE "
    "\"C\", ts timestamptz, bid float8, ask float8, volume float8) ON COMMIT "
    "DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS fxp_stage_rejects(origin text COLLATE "
    "\"C\", ts_ms bigint, symbol text COLLATE \"C\", reason text COLLATE "
    "\"C\", detail text, raw text) ON COMMIT DELETE ROWS";

static const char upsert_sql[] =
    "INSERT INTO bars(" BAR_COLS ") SELECT " BAR_COLS " FROM fxp_stage_bars "
    "ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = EXCLUDED.open, "
    "high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close, "
    "volume = EXCLUDED.volume, n_ticks = EXCLUDED.n_ticks, "
    "version = EXCLUDED.version, source = EXCLUDED.source "
    "WHERE EXCLUDED.version > bars.version";

/* ---- checks (note 1) ---- */

static bool ts_ok(int64_t ms)
{
    return ms >= FXP__PG_MIN_MS && ms < FXP__PG_END_MS;
}

/* "cannot write to 'NAME': <what> <i> has <why> <v>[ with no name]". */
static int bad(struct fxp_store *s, const char *what, size_t i, const char *why,
               long long v)
{
    struct fxp__pg *q = s->impl;

    snprintf(s->err, sizeof s->err,
             "cannot write to '%s': %s %zu has %s %lld%s", q->name, what, i,
             why, v, strcmp(why, "symbol id") ? "" : " with no name");
    return FXP_EINVAL;
}

static int bad_time(struct fxp_store *s, const char *what, size_t i, int64_t ts)
{
    struct fxp__pg *q = s->impl;

    snprintf(s->err, sizeof s->err,
             "cannot write to '%s': %s %zu has time %lld ms, outside what "
             "timestamptz holds",
             q->name, what, i, (long long)ts);
    return FXP_EINVAL;
}

static int check(struct fxp_store *s, const struct fxp_store_batch *b,
                 size_t n_ticks)
{
    struct fxp__pg *q = s->impl;

    if (b->meta_key && !strcmp(b->meta_key, "schema_version")) {
        snprintf(s->err, sizeof s->err,
                 "cannot write to '%s': meta key 'schema_version' is reserved",
                 q->name);
        return FXP_EINVAL;
    }
    if (b->meta_key &&
        (!fxp__pg_utf8_valid(b->meta_key) ||
         (b->meta_value && !fxp__pg_utf8_valid(b->meta_value)))) {
        snprintf(s->err, sizeof s->err,
                 "cannot write to '%s': meta key or value is not UTF-8",
                 q->name);
        return FXP_EINVAL;
    }
    if ((b->n_bars || n_ticks) && !b->symtab) {
        snprintf(s->err, sizeof s->err,
                 "cannot write to '%s': batch has bars or ticks but no symbol "
                 "table",
                 q->name);
        return FXP_EINVAL;
    }
    for (size_t i = 0; i < b->n_bars; i++) {
        const struct fxp_bar *x = &b->bars[i];
        if (!fxp_symtab_name(b->symtab, x->sym))
            return bad(s, "bar", i, "symbol id", x->sym);
        if (x->tf >= FXP_TF_COUNT)
            return bad(s, "bar", i, "unknown timeframe", x->tf);
        if (!fxp__sqlite_source_name(x->source))
            return bad(s, "bar", i, "unknown source", x->source);
        if (!ts_ok(x->ts_ms))
            return bad_time(s, "bar", i, x->ts_ms);
    }
    for (size_t i = 0; i < n_ticks; i++) {
        const struct fxp_tick *t = &b->ticks[i];
        if (!fxp_symtab_name(b->symtab, t->sym))
            return bad(s, "tick", i, "symbol id", t->sym);
        if (!ts_ok(t->ts_ms))
            return bad_time(s, "tick", i, t->ts_ms);
    }
    for (size_t i = 0; i < b->n_rejects; i++)
        if (!b->rejects[i].origin || !b->rejects[i].origin[0]) {
            snprintf(s->err, sizeof s->err,
                     "cannot write to '%s': reject %zu has no origin", q->name,
                     i);
            return FXP_EINVAL;
        }
    return FXP_OK;
}

/* ---- the transaction (note 2) ---- */

static void put_bar(struct fxp__pg *q, const struct fxp_bar *x,
                    const struct fxp_symtab *st)
{
    const char *sym = fxp_symtab_name(st, x->sym);
    const char *tf = fxp_tf_name((fxp_tf)x->tf);
    const char *src = fxp__sqlite_source_name(x->source);

    fxp__pg_put_be(q, 11, 2);
    fxp__pg_put_str(q, sym, strlen(sym));
    fxp__pg_put_str(q, tf, strlen(tf));
    fxp__pg_put_i64(q, fxp__pg_ms_to_us(x->ts_ms));
    fxp__pg_put_f8(q, x->open);
    fxp__pg_put_f8(q, x->high);
    fxp__pg_put_f8(q, x->low);
    fxp__pg_put_f8(q, x->close);
    fxp__pg_put_f8(q, x->volume);
    fxp__pg_put_i64(q, x->n_ticks);
    fxp__pg_put_i64(q, x->version);
    fxp__pg_put_str(q, src, strlen(src));
}

/* COPY the bars whose FXP__PG_FAST mark equals `fast` into table. */
static int copy_bars(struct fxp_store *s, const struct fxp_store_batch *b,
                     const char *table, uint32_t fast, bool *unique)
{
    struct fxp__pg *q = s->impl;
    int rc = fxp__pg_copy_begin(s, table);

    for (size_t i = 0; rc == FXP_OK && i < b->n_bars; i++) {
        if ((q->mark[i] & FXP__PG_LOSER) || (q->mark[i] & FXP__PG_FAST) != fast)
            continue;
        rc = fxp__pg_copy_need(s, 256);
        if (rc == FXP_OK)
            put_bar(q, &b->bars[i], b->symtab);
    }
    return rc == FXP_OK ? fxp__pg_copy_end(s, unique) : rc;
}

static int write_bars(struct fxp_store *s, const struct fxp_store_batch *b,
                      bool staged_only, bool *unique)
{
    struct fxp__pg *q = s->impl;
    size_t n_fast = 0, n_slow = 0;
    int rc = FXP_OK;

    for (size_t i = 0; i < b->n_bars; i++) {
        uint32_t m = q->mark[i] & ~FXP__PG_FAST, e = m & 0xFFFF;
        const struct fxp__pg_series *se =
            e != FXP__PG_NO_SERIES ? &q->series[e] : NULL;

        if (m & FXP__PG_LOSER) {
            q->mark[i] = m;
            continue;
        }
        if (!staged_only && se && se->state == FXP__PG_S_KNOWN &&
            (!se->has_max || b->bars[i].ts_ms > se->max_ms)) {
            m |= FXP__PG_FAST;
            n_fast++;
        } else {
            n_slow++;
        }
        q->mark[i] = m;
    }
    if (n_fast)
        rc = copy_bars(s, b, "bars(" BAR_COLS ")", FXP__PG_FAST, unique);
    if (rc == FXP_OK && n_slow)
        rc = copy_bars(s, b, "fxp_stage_bars", 0, NULL);
    if (rc == FXP_OK && n_slow)
        rc = fxp__pg_cmd(s, upsert_sql, NULL, "write to");
    return rc;
}

static int write_ticks(struct fxp_store *s, const struct fxp_store_batch *b,
                       size_t n)
{
    struct fxp__pg *q = s->impl;
    int rc = fxp__pg_copy_begin(s, "fxp_stage_ticks");

    for (size_t i = 0; rc == FXP_OK && i < n; i++) {
        const struct fxp_tick *t = &b->ticks[i];
        const char *sym = fxp_symtab_name(b->symtab, t->sym);

        rc = fxp__pg_copy_need(s, 128);
        if (rc != FXP_OK)
            break;
        fxp__pg_put_be(q, 5, 2);
        fxp__pg_put_str(q, sym, strlen(sym));
        fxp__pg_put_i64(q, fxp__pg_ms_to_us(t->ts_ms));
        fxp__pg_put_f8(q, t->bid);
        fxp__pg_put_f8(q, t->ask);
        fxp__pg_put_f8(q, t->volume);
    }
    if (rc == FXP_OK)
        rc = fxp__pg_copy_end(s, NULL);
    if (rc == FXP_OK)
        rc = fxp__pg_cmd(s,
                         "INSERT INTO ticks(symbol, ts, bid, ask, volume) "
                         "SELECT symbol, ts, bid, ask, volume FROM "
                         "fxp_stage_ticks ON CONFLICT DO NOTHING",
                         NULL, "write to");
    return rc;
}

static size_t slen(const char *v)
{
    return v ? strlen(v) : 0;
}

static int write_rejects(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__pg *q = s->impl;
    int rc = fxp__pg_copy_begin(s, "fxp_stage_rejects");

    for (size_t i = 0; rc == FXP_OK && i < b->n_rejects; i++) {
        const struct fxp_reject *x = &b->rejects[i];
        const char *reason = fxp_reason_name(x->reason);

        rc = fxp__pg_copy_need(s, 64 + strlen(reason) +
                                      4 * (slen(x->origin) + slen(x->symbol) +
                                           slen(x->detail) + slen(x->raw)));
        if (rc != FXP_OK)
            break;
        fxp__pg_put_be(q, 6, 2);
        fxp__pg_put_utf8(q, x->origin);
        fxp__pg_put_i64(q, x->ts_ms);
        fxp__pg_put_utf8(q, x->symbol);
        fxp__pg_put_str(q, reason, strlen(reason));
        fxp__pg_put_utf8(q, x->detail);
        fxp__pg_put_utf8(q, x->raw);
    }
    if (rc == FXP_OK)
        rc = fxp__pg_copy_end(s, NULL);
    if (rc == FXP_OK)
        rc = fxp__pg_cmd(s,
                         "INSERT INTO rejects(origin, ts_ms, symbol, reason, "
                         "detail, raw) SELECT origin, ts_ms, symbol, reason, "
                         "detail, raw FROM fxp_stage_rejects ON CONFLICT "
                         "(origin) DO NOTHING",
                         NULL, "write to");
    return rc;
}

static int write_txn(struct fxp_store *s, const struct fxp_store_batch *b,
                     size_t n_ticks, bool staged_only, bool *unique)
{
    struct fxp__pg_params p = {0};
    int rc = fxp__pg_cmd(s, "BEGIN", NULL, "write to");

    if (rc == FXP_OK && b->n_bars)
        rc = write_bars(s, b, staged_only, unique);
    if (rc == FXP_OK && n_ticks)
        rc = write_ticks(s, b, n_ticks);
    if (rc == FXP_OK && b->n_rejects)
        rc = write_rejects(s, b);
    if (rc == FXP_OK && b->meta_key) {
        fxp__pg_p_text(&p, b->meta_key);
        fxp__pg_p_text(&p, b->meta_value ? b->meta_value : "");
        rc = fxp__pg_cmd(s,
                         "INSERT INTO meta(key, value) VALUES($1, $2) ON "
                         "CONFLICT (key) DO UPDATE SET value = EXCLUDED.value "
                         "WHERE meta.value IS DISTINCT FROM EXCLUDED.value",
                         &p, "write to");
    }
    if (rc == FXP_OK)
        rc = fxp__pg_cmd(s, "COMMIT", NULL, "write to");
    return rc;
}

int fxp__pg_write(struct fxp_store *s, const struct fxp_store_batch *b)
{
    struct fxp__pg *q = s->impl;
    size_t n_ticks = s->opts.keep_ticks ? b->n_ticks : 0;
    bool unique = false;
    int rc = check(s, b, n_ticks);

    if (rc != FXP_OK)
        return rc;
    if (!b->n_bars && !n_ticks && !b->n_rejects && !b->meta_key)
        return FXP_OK;
    rc = fxp__pg_ready(s, "write to");
    if (rc != FXP_OK)
        return rc;
    if (!q->buf) {
        q->buf = malloc(BUF_INIT);
        if (!q->buf) {
            snprintf(s->err, sizeof s->err,
                     "cannot write to '%s': out of memory", q->name);
            return FXP_ENOMEM;
        }
        q->cap = BUF_INIT;
    }
    if (!q->staged) {
        rc = fxp__pg_run(s, stage_sql, NULL, "write to");
        if (rc != FXP_OK)
            return rc;
        q->staged = true;
    }
    q->n_touched = 0;
    rc = b->n_bars ? fxp__pg_mark_bars(s, b) : FXP_OK;
    if (rc == FXP_OK)
        rc = fxp__pg_ask_series(s);
    if (rc == FXP_OK && n_ticks)
        rc = fxp__pg_tick_days(s, b->ticks, n_ticks);
    if (rc == FXP_OK) {
        rc = write_txn(s, b, n_ticks, false, &unique);
        if (rc != FXP_OK && unique) {
            /* Note 3: someone else wrote newer bars; stage them all. */
            fxp__pg_forget_series(q);
            rc = write_txn(s, b, n_ticks, true, NULL);
        }
    }
    for (size_t i = 0; i < q->n_touched; i++) {
        struct fxp__pg_series *e = &q->series[q->touched[i]];
        if (rc == FXP_OK && e->state == FXP__PG_S_KNOWN &&
            (!e->has_max || e->batch_max > e->max_ms)) {
            e->max_ms = e->batch_max;
            e->has_max = 1;
        }
        e->touched = 0;
    }
    q->n_touched = 0;
    if (rc != FXP_OK) {
        /* What the server holds is uncertain now: ask again next time (a
         * tick partition may have been pruned by another handle). */
        fxp__pg_forget_series(q);
        q->n_days = 0;
    }
    return rc;
}
