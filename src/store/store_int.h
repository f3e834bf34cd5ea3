/*
 * store_int.h - what a store backend provides (internal). Every backend
 * fills one struct fxp_store_ops; store.c parses the URL, times every call
 * and dispatches through the ops, as source.c does for sources.
 *
 * A backend writes the detail of a failure into s->err (git-style, subject
 * in quotes) and returns an fxp_err; it never prints.
 */
#ifndef FXPIPE_STORE_INT_H
#define FXPIPE_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fxpipe/store.h"

struct sqlite3;

struct fxp_store_ops {
    const char *name; /* "sqlite", later "postgresql", "clickhouse" */
    int (*write)(struct fxp_store *s, const struct fxp_store_batch *b);
    int (*prune_ticks)(struct fxp_store *s, uint64_t *n_deleted);
    int (*meta_get)(struct fxp_store *s, const char *key, char *val,
                    size_t len);
    int (*scan_bars)(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud);
    int (*series)(struct fxp_store *s, fxp_store_series_fn fn, void *ud);
    int (*counts)(struct fxp_store *s, uint64_t *n_ticks, uint64_t *n_rejects);
    int (*reject_summary)(struct fxp_store *s, fxp_store_reason_fn fn,
                          void *ud);
    int (*coverage)(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_day_fn fn, void *ud);
    int (*present)(struct fxp_store *s, const char *symbol, fxp_tf tf,
                   int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud);
    /* presence and rescan_coverage may be NULL (store.c: presence falls
     * back to coverage without bitmaps; a rescan then does nothing). */
    int (*presence)(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_bits_fn fn, void *ud);
    int (*rescan_coverage)(struct fxp_store *s, const char *symbol);
    int (*ledger_put)(struct fxp_store *s, const struct fxp_ledger_entry *e,
                      size_t n);
    int (*ledger_scan)(struct fxp_store *s, const char *symbol, fxp_tf tf,
                       int64_t from, int64_t to, fxp_store_ledger_fn fn,
                       void *ud);
    void (*close)(void *impl); /* frees impl; impl is never NULL */
};

struct fxp_store {
    const struct fxp_store_ops *ops;
    void *impl;                 /* the backend's state */
    struct fxp_store_opts opts; /* copied at open */
    uint64_t slow;              /* calls that took opts.slow_ms or longer */
    char err[512];              /* detail of the last failure, "" if none */
};

/* The SQLite backend (store_sqlite.c). On success sets s->ops and s->impl;
 * on failure leaves them untouched and writes the reason into errbuf. */
int fxp__store_open_sqlite(struct fxp_store *s, const char *path, char *errbuf,
                           size_t errlen);

/* The PostgreSQL backend (store_pg*.c): url is the whole libpq URI. */
int fxp__store_open_pg(struct fxp_store *s, const char *url, char *errbuf,
                       size_t errlen);

/* The ClickHouse backend (store_clickhouse*.c): url is
 * "clickhouse://HOST:PORT/DB" naming the HTTP interface. */
int fxp__store_open_clickhouse(struct fxp_store *s, const char *url,
                               char *errbuf, size_t errlen);

/* Apply pragmas and bring the schema to FXP__SQLITE_SCHEMA_VERSION
 * (store_sqlite_schema.c). Returns FXP_OK, FXP_EIO (a newer schema, bad
 * meta, a failing statement) or FXP_ETIMEDOUT (locked), with the reason
 * naming `path` in errbuf. */
#define FXP__SQLITE_SCHEMA_VERSION 3
int fxp__sqlite_setup(struct sqlite3 *db, const char *path,
                      const struct fxp_store_opts *o, char *errbuf,
                      size_t errlen);

/* Map an SQLite result code to an fxp_err: SQLITE_FULL -> FXP_ENOSPC,
 * SQLITE_BUSY/SQLITE_LOCKED -> FXP_ETIMEDOUT, everything else FXP_EIO. */
int fxp__sqlite_err(int rc);

/* How values are spelled in the SQLite tables: the source of a bar
 * ("live", "gapfill", "historical"; NULL for an unknown fxp_origin) and
 * back (0 for an unknown name). */
const char *fxp__sqlite_source_name(unsigned src);
uint8_t fxp__sqlite_source_parse(const char *name);

/* The ledger state spelled by fxp_ledger_state_name, back to the enum
 * (store.c). Returns 0, or -1 for an unknown name. */
int fxp__ledger_state_parse(const char *name, fxp_ledger_state *out);

/* The series query: GROUP BY symbol, timeframe, ordered by symbol then by
 * fxp_tf (1m, 5m, ... 1w) rather than by the timeframe's name. */
void fxp__sqlite_series_sql(char *buf, size_t len);

/* ---- store_sqlite_gaps.c: coverage, present bars and the ledger ---- */

/* Its prepared statements and the coverage counts of the batch being
 * written. One per SQLite handle, owned by store_sqlite.c's state. */
struct fxp__sqgaps;

/* Prepare the statements (the schema must be current) and allocate the
 * count table; `path` is borrowed for messages and must outlive it.
 * Returns an SQLite result code; *out is NULL on failure. */
int fxp__sqgaps_open(struct sqlite3 *db, const char *path,
                     struct fxp__sqgaps **out);

/* Finalize the statements and free; NULL is a no-op. Call before closing
 * the connection. */
void fxp__sqgaps_close(struct fxp__sqgaps *g);

/* Forget any counts left by a failed batch; called as a write begins. */
void fxp__sqgaps_begin(struct fxp__sqgaps *g);

/* Count one newly inserted bar (its upsert returned revisions = 0). When
 * the table of distinct (symbol, timeframe, day) keys is full it is
 * applied at once, inside the caller's transaction. Returns an SQLite
 * result code. */
int fxp__sqgaps_count(struct fxp__sqgaps *g, const struct fxp_bar *b,
                      const struct fxp_symtab *st);

/* Add the counts to the coverage table and forget them; inside the
 * caller's transaction. Returns an SQLite result code. */
int fxp__sqgaps_flush(struct fxp__sqgaps *g, const struct fxp_symtab *st);

/* The SQLite handle's gaps state (store_sqlite.c). */
struct fxp__sqgaps *fxp__sqlite_gaps(struct fxp_store *s);

/* The ops of store_sqlite_gaps.c, for store_sqlite.c's ops table. */
int fxp__sq_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_day_fn fn, void *ud);
int fxp__sq_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud);
int fxp__sq_rescan_coverage(struct fxp_store *s, const char *symbol);
int fxp__sq_presence(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_bits_fn fn, void *ud);
int fxp__sq_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                       size_t n);
int fxp__sq_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_ledger_fn fn,
                        void *ud);

/* For tests only: the connection behind an SQLite store, NULL for other
 * backends. Lets a test set PRAGMA max_page_count to simulate a full
 * disk. */
struct sqlite3 *fxp__store_sqlite_db(struct fxp_store *s);

#endif
