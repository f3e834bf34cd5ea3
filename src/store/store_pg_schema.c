/*
 * store_pg_schema.c - the PostgreSQL store's schema, its migrations and
 * how ticks are stored: a TimescaleDB hypertable or native daily
 * partitions (docs/stores/postgresql.md). Partitions and pruning are in
 * store_pg_ticks.c.
 *
 * Design notes
 *
 *  1. meta(key, value) holds 'schema_version'. Opening a current database
 *     only reads; otherwise migrations[] run in ONE transaction holding a
 *     transaction-level advisory lock, so concurrent first opens serialise
 *     and a crash leaves the old schema or the new one. The version is read
 *     again under the lock. A newer version than this code knows is refused.
 *  2. Ticks: the first migration tries CREATE EXTENSION timescaledb inside a
 *     savepoint; when that or create_hypertable fails (no package: SQLSTATE
 *     0A000 or 58P01, not preloaded, no privilege) it rolls back to the
 *     savepoint and creates ticks PARTITION BY RANGE (ts) instead. Every
 *     open reads the catalog to learn which layout the table has and says
 *     so through opts.on_note.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "store/store_int.h"
#include "store/store_pg_int.h"

#define LOCK_KEY "7366644089117046065" /* pg_advisory_xact_lock: schema */

#define TICK_COLS                                                              \
    "symbol text COLLATE \"C\" NOT NULL, ts timestamptz NOT NULL, "            \
    "bid double precision NOT NULL, ask double precision NOT NULL, "           \
    "volume double precision, PRIMARY KEY(symbol, ts, bid, ask)"

/* migrations[i] brings version i to i + 1; ticks are made by make_ticks()
 * after the first one (note 2). Released entries are never edited. */
static const char *const migrations[] = {
    "CREATE TABLE IF NOT EXISTS bars("
    " symbol text COLLATE \"C\" NOT NULL, timeframe text COLLATE \"C\" NOT "
    "NULL, ts timestamptz NOT NULL, open double precision,"
    " high double precision, low double precision, close double precision,"
    " volume double precision, n_ticks bigint, version bigint NOT NULL,"
    " source text COLLATE \"C\", PRIMARY KEY(symbol, timeframe, ts));"
    "CREATE TABLE IF NOT EXISTS rejects("
    " origin text COLLATE \"C\" NOT NULL PRIMARY KEY, ts_ms bigint,"
    " symbol text COLLATE \"C\", reason text COLLATE \"C\", detail text,"
    " raw text);"
    "CREATE TABLE IF NOT EXISTS ledger("
    " symbol text COLLATE \"C\" NOT NULL, timeframe text COLLATE \"C\" NOT "
    "NULL, day date NOT NULL, state text NOT NULL, attempts bigint NOT NULL,"
    " bars bigint NOT NULL, detail text NOT NULL,"
    " PRIMARY KEY(symbol, timeframe, day));",
};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

_Static_assert(N_MIGRATIONS == FXP__PG_SCHEMA_VERSION,
               "one migration per schema version");

/* The recorded version, 0 without a meta table. */
static int read_version(struct fxp_store *s, long *version)
{
    struct fxp__pg *q = s->impl;
    PGresult *r;
    int rc;

    *version = 0;
    rc = fxp__pg_run(s, "SELECT to_regclass('meta') IS NULL", &r, "open store");
    if (rc != FXP_OK)
        return rc;
    bool none = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (none)
        return FXP_OK;
    rc = fxp__pg_run(s, "SELECT value FROM meta WHERE key = 'schema_version'",
                     &r, "open store");
    if (rc != FXP_OK)
        return rc;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        const char *v = PQgetvalue(r, 0, 0);
        char *end;

        errno = 0;
        *version = strtol(v, &end, 10);
        if (!*v || *end || errno || *version < 0) {
            snprintf(s->err, sizeof s->err,
                     "cannot open store '%s': bad schema_version '%s' in "
                     "table meta",
                     q->name, v);
            rc = FXP_EIO;
        }
    }
    PQclear(r);
    if (rc == FXP_OK && *version > N_MIGRATIONS) {
        snprintf(s->err, sizeof s->err,
                 "cannot open store '%s': schema version %ld is newer than "
                 "this fxpipe supports (%d)",
                 q->name, *version, N_MIGRATIONS);
        rc = FXP_EIO;
    }
    return rc;
}

/* Run sql inside the migration; on failure put the server's reason into
 * why (the transaction is left for the caller to roll back to its
 * savepoint, not rolled back as fxp__pg_run would). */
static bool try_sql(PGconn *c, const char *sql, char *why, size_t why_len)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(why, why_len, "%s (SQLSTATE %s)", m ? m : "no message",
                 code ? code : "none");
    }
    PQclear(r);
    return ok;
}

/* Note 2: a hypertable if TimescaleDB is there, else daily partitions.
 * why gets the reason TimescaleDB was not used. */
static int make_ticks(struct fxp_store *s, char *why, size_t why_len)
{
    struct fxp__pg *q = s->impl;
    char sql[512];
    int rc;
    bool ok;

    rc = fxp__pg_run(s, "SAVEPOINT fxp_tsdb", NULL, "open store");
    if (rc != FXP_OK)
        return rc;
    ok = try_sql(q->conn,
                 "CREATE EXTENSION IF NOT EXISTS timescaledb;"
                 "CREATE TABLE IF NOT EXISTS ticks(" TICK_COLS ");"
                 "SELECT create_hypertable('ticks', 'ts', chunk_time_interval "
                 "=> INTERVAL '1 day', if_not_exists => TRUE)",
                 why, why_len);
    if (ok && s->opts.tick_retention_ms > 0) {
        snprintf(sql, sizeof sql,
                 "SELECT add_retention_policy('ticks', INTERVAL '%" PRId64
                 " milliseconds', if_not_exists => TRUE)",
                 s->opts.tick_retention_ms);
        ok = try_sql(q->conn, sql, why, why_len);
    }
    if (ok)
        return fxp__pg_run(s, "RELEASE SAVEPOINT fxp_tsdb", NULL, "open store");
    rc = fxp__pg_run(s, "ROLLBACK TO SAVEPOINT fxp_tsdb", NULL, "open store");
    if (rc == FXP_OK)
        rc = fxp__pg_run(s,
                         "CREATE TABLE IF NOT EXISTS ticks(" TICK_COLS
                         ") PARTITION BY RANGE (ts)",
                         NULL, "open store");
    return rc;
}

/* Note 1: apply the missing migrations under the advisory lock. */
static int migrate(struct fxp_store *s, char *why, size_t why_len)
{
    char sql[160];
    long version = 0;
    int rc;

    rc = fxp__pg_run(s,
                     "BEGIN; SELECT pg_advisory_xact_lock(" LOCK_KEY ");"
                     "CREATE TABLE IF NOT EXISTS meta(key text COLLATE \"C\" "
                     "PRIMARY KEY, value text)",
                     NULL, "open store");
    if (rc == FXP_OK)
        rc = read_version(s, &version);
    for (long i = version; rc == FXP_OK && i < N_MIGRATIONS; i++) {
        rc = fxp__pg_run(s, migrations[i], NULL, "open store");
        if (rc == FXP_OK && i == 0)
            rc = make_ticks(s, why, why_len);
    }
    if (rc == FXP_OK && version < N_MIGRATIONS) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO meta(key, value) VALUES('schema_version', '%d') "
                 "ON CONFLICT(key) DO UPDATE SET value = EXCLUDED.value",
                 N_MIGRATIONS);
        rc = fxp__pg_run(s, sql, NULL, "open store");
    }
    if (rc == FXP_OK)
        rc = fxp__pg_run(s, "COMMIT", NULL, "open store");
    return rc;
}

/* Note 2: which layout ticks has, and the note saying so. */
static int detect_ticks(struct fxp_store *s, const char *why)
{
    struct fxp__pg *q = s->impl;
    char note[600];
    PGresult *r;
    int rc;

    rc =
        fxp__pg_run(s,
                    "SELECT c.relkind::text, "
                    "EXISTS(SELECT 1 FROM pg_extension WHERE extname = "
                    "'timescaledb')::text, "
                    "EXISTS(SELECT 1 FROM pg_available_extensions WHERE name = "
                    "'timescaledb')::text "
                    "FROM pg_class c WHERE c.oid = to_regclass('ticks')",
                    &r, "open store");
    if (rc != FXP_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(s->err, sizeof s->err,
                 "cannot open store '%s': table ticks is missing", q->name);
        return FXP_EIO;
    }
    bool partitioned = !strcmp(PQgetvalue(r, 0, 0), "p");
    bool installed = !strcmp(PQgetvalue(r, 0, 1), "true");
    bool available = !strcmp(PQgetvalue(r, 0, 2), "true");
    PQclear(r);
    if (partitioned) {
        q->ticks_mode = FXP__PG_TICKS_NATIVE;
        snprintf(note, sizeof note,
                 "TimescaleDB not available (%s): ticks in native daily "
                 "partitions",
                 why[0]       ? why
                 : !available ? "no timescaledb extension on the server"
                              : "ticks was created as a partitioned table");
    } else if (installed) {
        rc = fxp__pg_run(s,
                         "SELECT 1 FROM timescaledb_information.hypertables "
                         "WHERE hypertable_name = 'ticks'",
                         &r, "open store");
        if (rc != FXP_OK)
            return rc;
        q->ticks_mode =
            PQntuples(r) ? FXP__PG_TICKS_TIMESCALE : FXP__PG_TICKS_PLAIN;
        PQclear(r);
    } else {
        q->ticks_mode = FXP__PG_TICKS_PLAIN;
    }
    if (q->ticks_mode == FXP__PG_TICKS_TIMESCALE)
        snprintf(note, sizeof note,
                 "TimescaleDB: ticks in a hypertable with daily chunks");
    else if (q->ticks_mode == FXP__PG_TICKS_PLAIN)
        snprintf(note, sizeof note,
                 "ticks is a plain table: pruning deletes rows");
    if (s->opts.on_note)
        s->opts.on_note(s->opts.note_ud, note);
    return FXP_OK;
}

int fxp__pg_setup(struct fxp_store *s, char *errbuf, size_t errlen)
{
    char why[400] = "";
    long version;
    int rc = read_version(s, &version);

    if (rc == FXP_OK && version < N_MIGRATIONS)
        rc = migrate(s, why, sizeof why);
    if (rc == FXP_OK)
        rc = detect_ticks(s, why);
    if (rc != FXP_OK)
        snprintf(errbuf, errlen, "%s", s->err);
    s->err[0] = '\0';
    return rc;
}
