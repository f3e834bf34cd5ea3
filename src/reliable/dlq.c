/*
 * dlq.c - the dead-letter queue in a SQLite file of its own (dlq.h,
 * docs/internals/retry-and-dlq.md).
 *
 * Design notes
 *
 *  1. The DLQ is the last place a batch goes, so it favours durability
 *     over speed: WAL with synchronous=FULL (a put that returned FXP_OK
 *     survives a power cut), busy_timeout 5000 ms so the CLI and a running
 *     pipeline can share the file. Each put and remove is one statement,
 *     hence one transaction.
 *  2. The file is marked as a DLQ (application_id 'FXPQ', user_version 1)
 *     when the table is created. A file that holds other tables and no
 *     such mark (typically the store itself, given by mistake) is refused,
 *     so the DLQ never writes into a store. A newer user_version is
 *     refused too.
 *  3. Every statement is prepared once at open and reset before its
 *     function returns, so no read transaction outlives a call and a WAL
 *     checkpoint is never held back by an idle handle.
 *  4. Errors are mapped like the store's: SQLITE_FULL -> FXP_ENOSPC,
 *     anything else FXP_EIO (SQLITE_NOMEM -> FXP_ENOMEM); the detail,
 *     naming the file, is kept for fxp_dlq_errmsg.
 *  5. Ids come from AUTOINCREMENT, so an id is never reused even after the
 *     newest entry is removed: "dlq show 7" can never show a different
 *     batch than the 7 a log line named.
 */
#include "fxpipe/dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fxpipe/err.h"

#define DLQ_APP_ID       0x46585051 /* "FXPQ" */
#define DLQ_USER_VERSION 1

enum { ST_PUT, ST_LIST, ST_GET, ST_REMOVE, ST_REMOVE_ALL, ST_COUNT_ROWS, ST_N };

#define ENTRY_COLS                                                             \
    "id, kind, reason, error, attempts, source, correlation_id, n_records, "   \
    "first_ts, last_ts"

static const char *const sql_text[ST_N] = {
    [ST_PUT] = "INSERT INTO dlq(kind, reason, error, attempts, source, "
               "correlation_id, n_records, first_ts, last_ts, payload) "
               "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_LIST] = "SELECT " ENTRY_COLS " FROM dlq ORDER BY id",
    [ST_GET] = "SELECT " ENTRY_COLS ", payload FROM dlq WHERE id = ?1",
    [ST_REMOVE] = "DELETE FROM dlq WHERE id = ?1",
    [ST_REMOVE_ALL] = "DELETE FROM dlq",
    [ST_COUNT_ROWS] = "SELECT count(*) FROM dlq",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS dlq("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "kind TEXT NOT NULL, reason TEXT NOT NULL, error TEXT NOT NULL, "
    "attempts INTEGER NOT NULL, source TEXT NOT NULL, "
    "correlation_id TEXT NOT NULL, n_records INTEGER NOT NULL, "
    "first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, "
    "payload BLOB NOT NULL)";

struct fxp_dlq {
    sqlite3 *db;
    char *path; /* as given, for messages */
    sqlite3_stmt *st[ST_N];
    char err[512]; /* the last failure (note 4) */
};

static int map_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return FXP_OK;
    case SQLITE_FULL:
        return FXP_ENOSPC;
    case SQLITE_NOMEM:
        return FXP_ENOMEM;
    default:
        return FXP_EIO;
    }
}

/* "cannot <what> dead-letter queue 'PATH': <errmsg>" into d->err; returns
 * the mapped code. */
static int fail(struct fxp_dlq *d, int rc, const char *what)
{
    snprintf(d->err, sizeof d->err, "cannot %s dead-letter queue '%s': %s",
             what, d->path, sqlite3_errmsg(d->db));
    return map_err(rc);
}

/* Run sql; rc is the SQLite code. */
static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Read one integer from a single-row query; SQLite code. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Note 2: refuse foreign files and newer layouts, create the table. */
static int setup(struct fxp_dlq *d, char *errbuf, size_t errlen)
{
    int64_t app_id = 0, version = 0, others = 0;
    int rc;

    rc = query_int(d->db, "PRAGMA application_id", &app_id);
    if (rc == SQLITE_OK)
        rc = query_int(d->db, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK)
        rc = query_int(d->db,
                       "SELECT count(*) FROM sqlite_master WHERE type = "
                       "'table' AND name NOT IN ('dlq', 'sqlite_sequence')",
                       &others);
    if (rc != SQLITE_OK)
        goto sql_fail;
    if ((app_id != 0 && app_id != DLQ_APP_ID) || (app_id == 0 && others)) {
        snprintf(errbuf, errlen,
                 "cannot open dead-letter queue '%s': the file is another "
                 "database (a store?), not a dead-letter queue",
                 d->path);
        return FXP_EIO;
    }
    if (version > DLQ_USER_VERSION) {
        snprintf(errbuf, errlen,
                 "cannot open dead-letter queue '%s': layout version %lld "
                 "is newer than this fxpipe supports (%d)",
                 d->path, (long long)version, DLQ_USER_VERSION);
        return FXP_EIO;
    }
    if (app_id == DLQ_APP_ID && version == DLQ_USER_VERSION)
        return FXP_OK;
    /* journal_mode cannot change inside a transaction: it was set before;
     * the table and its marks are created atomically. */
    rc = exec(d->db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK)
        rc = exec(d->db, schema_sql);
    if (rc == SQLITE_OK) {
        char sql[96];
        snprintf(sql, sizeof sql,
                 "PRAGMA application_id = %d; PRAGMA user_version = %d",
                 DLQ_APP_ID, DLQ_USER_VERSION);
        rc = exec(d->db, sql);
    }
    if (rc == SQLITE_OK)
        rc = exec(d->db, "COMMIT");
    if (rc == SQLITE_OK)
        return FXP_OK;
sql_fail:
    snprintf(errbuf, errlen, "cannot open dead-letter queue '%s': %s", d->path,
             sqlite3_errmsg(d->db));
    if (!sqlite3_get_autocommit(d->db))
        exec(d->db, "ROLLBACK");
    return map_err(rc);
}

int fxp_dlq_open(const char *path, struct fxp_dlq **out, char *errbuf,
                 size_t errlen)
{
    struct fxp_dlq *d;
    size_t n;
    int rc;

    *out = NULL;
    if (errlen)
        errbuf[0] = '\0';
    if (!path || !path[0]) {
        snprintf(errbuf, errlen, "empty dead-letter queue path");
        return FXP_EINVAL;
    }
    n = strlen(path);
    d = calloc(1, sizeof *d);
    if (d)
        d->path = malloc(n + 1);
    if (!d || !d->path) {
        free(d);
        snprintf(errbuf, errlen,
                 "cannot open dead-letter queue '%s': out of memory", path);
        return FXP_ENOMEM;
    }
    memcpy(d->path, path, n + 1);

    /* NOMUTEX: one handle per thread (dlq.h). */
    rc = sqlite3_open_v2(
        path, &d->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(d->db, 5000);
    /* Note 1. A file system without WAL keeps its journal mode; that is
     * slower but just as safe. The first statement that touches the file
     * is this one, so a file that is not a database fails here. */
    if (rc == SQLITE_OK)
        rc = exec(d->db, "PRAGMA journal_mode = WAL");
    if (rc == SQLITE_OK)
        rc = exec(d->db, "PRAGMA synchronous = FULL");
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot open dead-letter queue '%s': %s", path,
                 d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
        rc = map_err(rc);
        goto fail;
    }
    rc = setup(d, errbuf, errlen);
    if (rc != FXP_OK)
        goto fail;
    for (int i = 0; i < ST_N; i++) {
        int prc = sqlite3_prepare_v3(
            d->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i], NULL);
        if (prc != SQLITE_OK) {
            snprintf(errbuf, errlen, "cannot open dead-letter queue '%s': %s",
                     path, sqlite3_errmsg(d->db));
            rc = map_err(prc);
            goto fail;
        }
    }
    *out = d;
    return FXP_OK;

fail:
    /* Whatever SQLite said, opening failed: an I/O error unless it was
     * memory or space. */
    if (rc != FXP_ENOMEM && rc != FXP_ENOSPC)
        rc = FXP_EIO;
    fxp_dlq_close(d);
    return rc;
}

void fxp_dlq_close(struct fxp_dlq *d)
{
    if (!d)
        return;
    for (int i = 0; i < ST_N; i++)
        sqlite3_finalize(d->st[i]);
    sqlite3_close(d->db);
    free(d->path);
    free(d);
}

const char *fxp_dlq_errmsg(const struct fxp_dlq *d)
{
    return d->err;
}

/* Bind a fixed-size text field, which may lack its NUL when full. */
static int bind_field(sqlite3_stmt *st, int i, const char *s, size_t cap)
{
    return sqlite3_bind_text(st, i, s, (int)strnlen(s, cap), SQLITE_STATIC);
}

#define BIND_FIELD(st, i, e, f) bind_field(st, i, (e)->f, sizeof(e)->f)

int fxp_dlq_put(struct fxp_dlq *d, struct fxp_dlq_entry *e, const void *payload,
                size_t len)
{
    sqlite3_stmt *st = d->st[ST_PUT];
    int rc = SQLITE_OK;

    rc |= BIND_FIELD(st, 1, e, kind);
    rc |= BIND_FIELD(st, 2, e, reason);
    rc |= BIND_FIELD(st, 3, e, error);
    rc |= sqlite3_bind_int(st, 4, e->attempts);
    rc |= BIND_FIELD(st, 5, e, source);
    rc |= BIND_FIELD(st, 6, e, correlation_id);
    rc |= sqlite3_bind_int64(st, 7, (sqlite3_int64)e->n_records);
    rc |= sqlite3_bind_int64(st, 8, e->first_ts);
    rc |= sqlite3_bind_int64(st, 9, e->last_ts);
    if (len == 0 || !payload)
        rc |= sqlite3_bind_zeroblob(st, 10, 0);
    else
        rc |= sqlite3_bind_blob64(st, 10, payload, len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        e->id = sqlite3_last_insert_rowid(d->db);
        rc = SQLITE_OK;
    } else {
        rc = fail(d, rc, "write to");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* drop the pointer into the caller's data */
    return rc == SQLITE_OK ? FXP_OK : rc;
}

/* Copy a text column into a fixed field, truncating, always terminated. */
static void col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    size_t n = s ? (size_t)sqlite3_column_bytes(st, col) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Fill e from the ENTRY_COLS of the current row. */
static void read_entry(sqlite3_stmt *st, struct fxp_dlq_entry *e)
{
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, e->kind, sizeof e->kind);
    col_text(st, 2, e->reason, sizeof e->reason);
    col_text(st, 3, e->error, sizeof e->error);
    e->attempts = sqlite3_column_int(st, 4);
    col_text(st, 5, e->source, sizeof e->source);
    col_text(st, 6, e->correlation_id, sizeof e->correlation_id);
    e->n_records = (uint64_t)sqlite3_column_int64(st, 7);
    e->first_ts = sqlite3_column_int64(st, 8);
    e->last_ts = sqlite3_column_int64(st, 9);
}

int fxp_dlq_list(struct fxp_dlq *d, fxp_dlq_fn fn, void *ud)
{
    sqlite3_stmt *st = d->st[ST_LIST];
    struct fxp_dlq_entry e;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_entry(st, &e);
        if (fn(ud, &e)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        rc = fail(d, rc, "read");
    else
        rc = FXP_OK;
    sqlite3_reset(st);
    return rc;
}

int fxp_dlq_get(struct fxp_dlq *d, int64_t id, struct fxp_dlq_entry *e,
                void **payload, size_t *len)
{
    sqlite3_stmt *st = d->st[ST_GET];
    int rc;

    if (payload)
        *payload = NULL;
    if (len)
        *len = 0;
    rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        snprintf(d->err, sizeof d->err,
                 "no entry %lld in dead-letter queue '%s'", (long long)id,
                 d->path);
        sqlite3_reset(st);
        return FXP_ENOENT;
    }
    if (rc != SQLITE_ROW) {
        rc = fail(d, rc, "read");
        sqlite3_reset(st);
        return rc;
    }
    read_entry(st, e);
    rc = FXP_OK;
    if (payload) {
        const void *blob = sqlite3_column_blob(st, 10);
        size_t n = (size_t)sqlite3_column_bytes(st, 10);
        void *p = malloc(n ? n : 1);

        if (!p) {
            snprintf(d->err, sizeof d->err,
                     "cannot read dead-letter queue '%s': out of memory",
                     d->path);
            rc = FXP_ENOMEM;
        } else {
            if (n)
                memcpy(p, blob, n);
            *payload = p;
            if (len)
                *len = n;
        }
    }
    sqlite3_reset(st);
    return rc;
}

int fxp_dlq_remove(struct fxp_dlq *d, int64_t id)
{
    sqlite3_stmt *st = d->st[id < 0 ? ST_REMOVE_ALL : ST_REMOVE];
    int rc = SQLITE_OK;

    if (id >= 0)
        rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fail(d, rc, "remove from");
    if (id >= 0 && sqlite3_changes(d->db) == 0) {
        snprintf(d->err, sizeof d->err,
                 "no entry %lld in dead-letter queue '%s'", (long long)id,
                 d->path);
        return FXP_ENOENT;
    }
    return FXP_OK;
}

uint64_t fxp_dlq_count(struct fxp_dlq *d)
{
    sqlite3_stmt *st = d->st[ST_COUNT_ROWS];
    uint64_t n = 0;
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(st, 0);
    else
        fail(d, rc, "read");
    sqlite3_reset(st);
    return n;
}

void fxp_dlq_default_path(const char *store_path, char *out, size_t len)
{
    const char *p = store_path ? store_path : "";
    const char *slash, *dot;
    size_t stem;

    if (len == 0)
        return;
    /* The store is a URL: "sqlite:PATH" and "sqlite://PATH" name a file;
     * a server store (postgresql://, clickhouse://) has no file to sit
     * next to, so the DLQ goes to the working directory. */
    if (!strncmp(p, "sqlite://", 9))
        p += 9;
    else if (!strncmp(p, "sqlite:", 7))
        p += 7;
    else if (strstr(p, "://"))
        p = "";
    if (!p[0]) {
        snprintf(out, len, "fxpipe.dlq");
        return;
    }
    slash = strrchr(p, '/');
    dot = strrchr(slash ? slash + 1 : p, '.');
    /* A leading dot names a hidden file, not an extension. */
    if (dot && dot != (slash ? slash + 1 : p))
        stem = (size_t)(dot - p);
    else
        stem = strlen(p);
    snprintf(out, len, "%.*s.dlq", (int)stem, p);
}
