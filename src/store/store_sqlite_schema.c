/*
 * store_sqlite_schema.c - connection settings and schema migrations of
 * the SQLite store (docs/internals/store.md).
 *
 * Design notes
 *
 *  1. meta(key, value) holds 'schema_version', the number of migrations
 *     applied. It is created outside the migrations[] array because the
 *     version is read from it; everything else is a migration.
 *  2. migrations[i] brings a database from version i to i + 1. They are
 *     applied in order inside ONE transaction (BEGIN IMMEDIATE), together
 *     with the new schema_version, so a crash leaves the old version or the
 *     new one, never a half-migrated file. Entries are never edited once
 *     released; a change is a new entry appended at the end.
 *  3. A database whose schema_version is larger than the migrations known
 *     here was written by a newer fxpipe: it is refused, not touched.
 *  4. Opening a database that is already current writes nothing, so that
 *     readers (`fxpipe stats`) neither wait for a writer's lock nor change
 *     the file.
 *  5. No table stores wall-clock time: importing the same data twice must
 *     give a byte-identical dump.
 *  6. Day arithmetic in SQL floors negative times too:
 *     day = ts - (ts % 86400000 + 86400000) % 86400000, as the write path
 *     and the rescan (store_sqlite_gaps.c) compute it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fxpipe/err.h"
#include "store/store_int.h"

static const char *const migrations[] = {
    /* 0 -> 1: bars, ticks, rejects. */
    "CREATE TABLE bars("
    " symbol TEXT NOT NULL, timeframe TEXT NOT NULL, ts INTEGER NOT NULL,"
    " open REAL, high REAL, low REAL, close REAL, volume REAL,"
    " ticks INTEGER, version INTEGER NOT NULL, source TEXT,"
    " PRIMARY KEY(symbol, timeframe, ts)) WITHOUT ROWID;"
    "CREATE TABLE ticks("
    " symbol TEXT NOT NULL, ts INTEGER NOT NULL, bid REAL NOT NULL,"
    " ask REAL NOT NULL, volume REAL,"
    " PRIMARY KEY(symbol, ts, bid, ask)) WITHOUT ROWID;"
    "CREATE TABLE rejects("
    " origin TEXT NOT NULL PRIMARY KEY, ts INTEGER, symbol TEXT,"
    " reason TEXT, detail TEXT, raw TEXT);",

    /* 1 -> 2: coverage (bars per UTC day, kept by every write and filled
     * here from the bars already stored), the back-fill ledger, and
     * bars.revisions, which tells the write path whether its upsert
     * inserted a row (0) or updated one (> 0). */
    "CREATE TABLE coverage("
    " symbol TEXT, timeframe TEXT, day INTEGER, bars INTEGER NOT NULL,"
    " PRIMARY KEY(symbol, timeframe, day)) WITHOUT ROWID;"
    "CREATE TABLE ledger("
    " symbol TEXT, timeframe TEXT, day INTEGER, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, bars INTEGER NOT NULL,"
    " detail TEXT NOT NULL,"
    " PRIMARY KEY(symbol, timeframe, day)) WITHOUT ROWID;"
    "ALTER TABLE bars ADD COLUMN revisions INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO coverage(symbol, timeframe, day, bars)"
    " SELECT symbol, timeframe,"
    " ts - (ts % 86400000 + 86400000) % 86400000, count(*)"
    " FROM bars GROUP BY 1, 2, 3;",

    /* 2 -> 3: coverage.bits, a presence bitmap per day (one bit per slot,
     * store.h's fxp_coverage_slot_ms), so gap detection never reads bars.
     * NULL = not known (rows counted before this version, or rebuilt by a
     * rescan): detection then reads the day's bars instead. */
    "ALTER TABLE coverage ADD COLUMN bits BLOB;",
};

#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

_Static_assert(N_MIGRATIONS == FXP__SQLITE_SCHEMA_VERSION,
               "one migration per schema version");

int fxp__sqlite_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return FXP_OK;
    case SQLITE_FULL:
        return FXP_ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return FXP_ETIMEDOUT;
    default:
        return FXP_EIO;
    }
}

/* Source names as stored, indexed by fxp_origin. */
static const char *const source_names[] = {
    [FXP_SRC_HISTORICAL] = "historical",
    [FXP_SRC_GAPFILL] = "gapfill",
    [FXP_SRC_LIVE] = "live",
};
#define N_SOURCES (sizeof source_names / sizeof source_names[0])

const char *fxp__sqlite_source_name(unsigned src)
{
    return src < N_SOURCES ? source_names[src] : NULL;
}

uint8_t fxp__sqlite_source_parse(const char *name)
{
    for (unsigned i = 1; name && i < N_SOURCES; i++)
        if (!strcmp(name, source_names[i]))
            return (uint8_t)i;
    return 0;
}

void fxp__sqlite_series_sql(char *buf, size_t len)
{
    size_t n = (size_t)snprintf(
        buf, len,
        "SELECT symbol, timeframe, count(*), min(ts), max(ts) FROM bars "
        "GROUP BY symbol, timeframe ORDER BY symbol, CASE timeframe");
    for (int tf = 0; tf < FXP_TF_COUNT && n < len; tf++)
        n += (size_t)snprintf(buf + n, len - n, " WHEN '%s' THEN %d",
                              fxp_tf_name((fxp_tf)tf), tf);
    if (n < len)
        snprintf(buf + n, len - n, " ELSE %d END", FXP_TF_COUNT);
}

/* Run sql; on failure describe it in errbuf and return the fxp_err. */
static int exec(sqlite3 *db, const char *path, const char *sql, char *errbuf,
                size_t errlen)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        snprintf(errbuf, errlen, "cannot open database '%s': %s", path,
                 sqlite3_errmsg(db));
    return fxp__sqlite_err(rc);
}

/* The schema version recorded in meta: 0 for a database without one. */
static int read_version(sqlite3 *db, const char *path, long *version,
                        char *errbuf, size_t errlen)
{
    static const char has_meta[] = "SELECT count(*) FROM sqlite_master "
                                   "WHERE type = 'table' AND name = 'meta'";
    static const char get[] =
        "SELECT value FROM meta WHERE key = 'schema_version'";
    sqlite3_stmt *st = NULL;
    int rc;

    *version = 0;
    rc = sqlite3_prepare_v2(db, has_meta, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int present = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        if (!present)
            return FXP_OK;
        rc = sqlite3_prepare_v2(db, get, -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        char *end;

        errno = 0;
        *version = v ? strtol(v, &end, 10) : -1;
        if (!v || !*v || *end || errno || *version < 0) {
            snprintf(errbuf, errlen,
                     "cannot open database '%s': bad schema_version '%s' "
                     "in table meta",
                     path, v ? v : "NULL");
            sqlite3_finalize(st);
            return FXP_EIO;
        }
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) {
        snprintf(errbuf, errlen, "cannot open database '%s': %s", path,
                 sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return fxp__sqlite_err(rc);
    }
    sqlite3_finalize(st);
    return FXP_OK;
}

static int check_version(long version, const char *path, char *errbuf,
                         size_t errlen)
{
    if (version <= N_MIGRATIONS)
        return FXP_OK;
    snprintf(errbuf, errlen,
             "cannot open database '%s': schema version %ld is newer than "
             "this fxpipe supports (%d)",
             path, version, N_MIGRATIONS);
    return FXP_EIO;
}

/* Apply the missing migrations and record the version (note 2). */
static int migrate(sqlite3 *db, const char *path, char *errbuf, size_t errlen)
{
    char sql[128];
    long version = 0;
    int rc;

    rc = exec(db, path, "BEGIN IMMEDIATE", errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    rc = exec(db, path,
              "CREATE TABLE IF NOT EXISTS meta("
              "key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID",
              errbuf, errlen);
    /* Read again under the write lock: another process may have migrated
     * the file since we looked. */
    if (rc == FXP_OK)
        rc = read_version(db, path, &version, errbuf, errlen);
    if (rc == FXP_OK)
        rc = check_version(version, path, errbuf, errlen);
    for (long i = version; rc == FXP_OK && i < N_MIGRATIONS; i++)
        rc = exec(db, path, migrations[i], errbuf, errlen);
    if (rc == FXP_OK) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO meta(key, value) VALUES('schema_version', "
                 "'%d') ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 N_MIGRATIONS);
        rc = exec(db, path, sql, errbuf, errlen);
    }
    if (rc == FXP_OK)
        rc = exec(db, path, "COMMIT", errbuf, errlen);
    if (rc != FXP_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int fxp__sqlite_setup(sqlite3 *db, const char *path,
                      const struct fxp_store_opts *o, char *errbuf,
                      size_t errlen)
{
    long version;
    int rc;

    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 0);
    if (sqlite3_db_readonly(db, "main") == 1) {
        snprintf(errbuf, errlen,
                 "cannot open database '%s': attempt to write a readonly "
                 "database",
                 path);
        return FXP_EIO;
    }
    /* WAL: readers never block the writer and a commit is one append;
     * synchronous=NORMAL syncs at checkpoints only, which keeps the
     * database consistent after a crash (a power loss may drop the last
     * commits, which the journal upstream replays). */
    rc = exec(db, path, "PRAGMA journal_mode=WAL", errbuf, errlen);
    if (rc == FXP_OK)
        rc = exec(db, path, "PRAGMA synchronous=NORMAL", errbuf, errlen);
    if (rc == FXP_OK)
        rc = read_version(db, path, &version, errbuf, errlen);
    if (rc == FXP_OK)
        rc = check_version(version, path, errbuf, errlen);
    if (rc == FXP_OK && version < N_MIGRATIONS)
        rc = migrate(db, path, errbuf, errlen);
    return rc;
}
