/*
 * store_sqlite_int.h - what the SQLite backend's files share (internal):
 * the handle's state and prepared statements (store_sqlite.c), a few
 * helpers and the read-only ops (store_sqlite_read.c).
 */
#ifndef FXPIPE_STORE_SQLITE_INT_H
#define FXPIPE_STORE_SQLITE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store_int.h"

/* The prepared statements, indexes into fxp__sq.st (SQL in store_sqlite.c). */
enum {
    FXP__ST_BEGIN,
    FXP__ST_COMMIT,
    FXP__ST_ROLLBACK,
    FXP__ST_BAR,
    FXP__ST_TICK,
    FXP__ST_REJECT,
    FXP__ST_META_PUT,
    FXP__ST_META_GET,
    FXP__ST_SCAN,
    FXP__ST_SERIES,
    FXP__ST_COUNTS,
    FXP__ST_REASONS,
    FXP__ST_PRUNE,
    FXP__ST_COUNT
};

/* The state behind an SQLite store's s->impl. */
struct fxp__sq {
    sqlite3 *db;
    char *path; /* as given, for messages */
    sqlite3_stmt *st[FXP__ST_COUNT];
    struct fxp__sqgaps *g; /* coverage, present bars, ledger */
    int revised;           /* set by fxp_revised() (store_sqlite.c note 5) */
};

/* Describe a failed SQLite call as "cannot <what> 'PATH': <errmsg>", roll
 * back an open transaction and return the mapped fxp_err. */
int fxp__sq_fail_sql(struct fxp_store *s, int rc, const char *what);

/* Bind a string the statement may use until it is cleared or rebound. */
static inline int fxp__sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* ---- store_sqlite_read.c: the read-only ops, for the ops table ---- */

int fxp__sq_meta_get(struct fxp_store *s, const char *key, char *val,
                     size_t len);
int fxp__sq_scan_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud);
int fxp__sq_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud);
int fxp__sq_counts(struct fxp_store *s, uint64_t *n_ticks, uint64_t *n_rejects);
int fxp__sq_reject_summary(struct fxp_store *s, fxp_store_reason_fn fn,
                           void *ud);

#endif
