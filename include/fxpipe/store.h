/*
 * store.h - where bars, ticks and rejected records are kept.
 *
 * One interface, several backends (SQLite now; PostgreSQL and ClickHouse
 * later), chosen by URL. Bars are keyed (symbol, timeframe, ts) and the
 * row with the highest version wins, so writing the same bars twice
 * changes nothing. Every fxp_store_write is one transaction: all of a
 * batch is stored or none of it. A handle is used by one thread at a time.
 */
#ifndef FXPIPE_STORE_H
#define FXPIPE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/timeframe.h"
#include "fxpipe/types.h"
#include "fxpipe/validate.h"

struct fxp_symtab;
struct fxp_store;

struct fxp_store_opts {
    int busy_timeout_ms;       /* wait for a locked database; default 5000 */
    int slow_ms;               /* log writes/queries slower than this (0 off) */
    bool keep_ticks;           /* store raw ticks too */
    int64_t tick_retention_ms; /* ticks older than newest - this are pruned;
                                  0 = keep forever */
    int connect_timeout_ms;    /* network stores: connect (10000) */
    int statement_timeout_ms;  /* network stores: one request (30000) */
    /* Facts worth a log line found at open (e.g. "TimescaleDB not
     * available: ticks in native partitions"); may be NULL. */
    void (*on_note)(void *ud, const char *msg);
    void *note_ud;
};

void fxp_store_opts_default(struct fxp_store_opts *o);

/* A record that failed validation or parsing, kept with its reason. */
struct fxp_reject {
    const char *origin; /* unique place: "file.csv:123", "synthetic:4711" */
    int64_t ts_ms;      /* record time when known, else 0 */
    const char *symbol; /* normalised or raw symbol, may be "" */
    fxp_reason reason;
    const char *detail; /* human text naming the field and values */
    const char *raw;    /* the raw line or a rendering of the record */
};

/* What one fxp_store_write stores, atomically. Any part may be empty. */
struct fxp_store_batch {
    const struct fxp_bar *bars;
    size_t n_bars;
    const struct fxp_tick *ticks; /* ignored unless opts.keep_ticks */
    size_t n_ticks;
    const uint64_t *tick_pos; /* optional, per tick: its ingest journal
                                 sequence (carried on the bus, never
                                 stored) */
    const struct fxp_reject *rejects;
    size_t n_rejects;
    const struct fxp_symtab *symtab; /* names of the sym ids above */
    const char *meta_key;            /* optional key/value stored in the */
    const char *meta_value;          /* same transaction (e.g. a cursor) */
};

/* Open the store named by `url`: "sqlite:PATH", or a plain PATH (SQLite),
 * "postgresql://USER@HOST:PORT/DB" (libpq URI), "clickhouse://HOST:PORT/DB"
 * (the HTTP interface).
 * Creates the schema or migrates it to the current version. Errors:
 * FXP_EINVAL (unknown scheme), FXP_EIO (cannot open/create, not a
 * database, read-only), with a message naming the path in errbuf. */
int fxp_store_open(const char *url, const struct fxp_store_opts *opts,
                   struct fxp_store **out, char *errbuf, size_t errlen);

/* Close; NULL is a no-op. */
void fxp_store_close(struct fxp_store *s);

/* The backend's name ("sqlite") and the detail of the last failure. */
const char *fxp_store_backend(const struct fxp_store *s);
const char *fxp_store_errmsg(const struct fxp_store *s);

/* Store a batch in one transaction. Bars are upserted keeping the highest
 * version; ticks and rejects already present are ignored. Returns FXP_OK,
 * FXP_ENOSPC (disk full), FXP_ETIMEDOUT (database locked past the busy
 * timeout) or FXP_EIO; on failure nothing of the batch is stored. */
int fxp_store_write(struct fxp_store *s, const struct fxp_store_batch *b);

/* Delete ticks older than (newest tick time - retention). Returns FXP_OK or
 * an error; *n_deleted (may be NULL) gets the count. */
int fxp_store_prune_ticks(struct fxp_store *s, uint64_t *n_deleted);

/* Read a value stored with a batch; FXP_ENOENT when absent. */
int fxp_store_meta_get(struct fxp_store *s, const char *key, char *val,
                       size_t len);

/* Called per bar by fxp_store_scan_bars; return non-zero to stop. */
typedef int (*fxp_store_bar_fn)(void *ud, const char *symbol,
                                const struct fxp_bar *b);

/* Bars of symbol/tf with ts in [from, to), ascending by ts. b->sym is 0. */
int fxp_store_scan_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_bar_fn fn,
                        void *ud);

/* One stored series (symbol, timeframe) for `fxpipe stats`. */
struct fxp_series_info {
    char symbol[16];
    fxp_tf tf;
    uint64_t count;
    int64_t first_ts, last_ts;
};
typedef int (*fxp_store_series_fn)(void *ud, const struct fxp_series_info *i);

/* Every series, ordered by symbol then timeframe. */
int fxp_store_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud);

/* Row counts of the tick and reject tables. */
int fxp_store_counts(struct fxp_store *s, uint64_t *n_ticks,
                     uint64_t *n_rejects);

/* Called per reason with its count by fxp_store_reject_summary. */
typedef int (*fxp_store_reason_fn)(void *ud, const char *reason,
                                   uint64_t count);
int fxp_store_reject_summary(struct fxp_store *s, fxp_store_reason_fn fn,
                             void *ud);

/* ---- Coverage: bars per UTC day, kept by fxp_store_write ---- */

/* Called per UTC day (day_ms = midnight) that holds at least one bar of
 * the series; ascending. Return non-zero to stop. */
typedef int (*fxp_store_day_fn)(void *ud, int64_t day_ms, uint64_t bars);

/* Bars per UTC day of symbol/tf for every UTC day overlapping [from, to). Reads
 * a summary table, never the bars: cheap for ten years. Counts every stored
 * row; fxpipe only stores valid bars, for databases written by other tools see
 * fxp_store_rescan_coverage. */
int fxp_store_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                       int64_t from, int64_t to, fxp_store_day_fn fn, void *ud);

/* Presence bitmaps: per UTC day one bit per slot, slot i = the bar opening
 * at day + i * fxp_coverage_slot_ms(tf) (1m..1h: the bar step; 4h, 1d,
 * 1w: whole hours, where their bars open in both session conventions). */
#define FXP_COVERAGE_BITS_MAX 180 /* 1440 one-minute slots */

static inline int64_t fxp_coverage_slot_ms(fxp_tf tf)
{
    static const int64_t ms[] = {60000,   300000,  900000,  1800000,
                                 3600000, 3600000, 3600000, 3600000};
    return (unsigned)tf < 8 ? ms[tf] : 3600000;
}

static inline size_t fxp_coverage_bits_len(fxp_tf tf)
{
    return (size_t)((86400000 / fxp_coverage_slot_ms(tf) + 7) / 8);
}

/* Called per UTC day holding bars: the count and the presence bitmap
 * (fxp_coverage_bits_len(tf) bytes), or bits NULL when not known (days
 * counted by an older version, or rebuilt by a rescan). Non-zero stops. */
typedef int (*fxp_store_bits_fn)(void *ud, int64_t day_ms, uint64_t bars,
                                 const unsigned char *bits, size_t len);

/* Like fxp_store_coverage, with each day's presence bitmap: gap detection
 * reads these instead of bars. */
int fxp_store_presence(struct fxp_store *s, const char *symbol, fxp_tf tf,
                       int64_t from, int64_t to, fxp_store_bits_fn fn,
                       void *ud);

/* Called per present bar time, ascending. Non-zero stops. */
typedef int (*fxp_store_ts_fn)(void *ud, int64_t ts);

/* Open times of the PRESENT bars of symbol/tf in [from, to): rows whose
 * open, high, low, close are not NULL/NaN and > 0 and whose volume is not
 * NULL and >= 0. */
int fxp_store_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud);

/* Rebuild the coverage summary from the bars themselves, counting only
 * present bars (for rows written by other tools). symbol NULL = all. */
int fxp_store_rescan_coverage(struct fxp_store *s, const char *symbol);

/* ---- The period ledger: what back-fill did, per symbol/tf/UTC day ---- */

typedef enum fxp_ledger_state {
    FXP_LEDGER_MISSING = 0,    /* not (successfully) downloaded yet */
    FXP_LEDGER_DOWNLOADED = 1, /* downloaded and stored, not verified */
    FXP_LEDGER_VERIFIED = 2,   /* stored bars counted and matched */
    FXP_LEDGER_EMPTY = 3,      /* the source was asked and had nothing */
    FXP_LEDGER_REVIEW = 4      /* failed after bounded retries */
} fxp_ledger_state;

/* "missing", "downloaded", "verified", "confirmed-empty", "needs-review" */
const char *fxp_ledger_state_name(fxp_ledger_state st);

struct fxp_ledger_entry {
    char symbol[16];
    fxp_tf tf;
    int64_t day_ms; /* UTC midnight of the period */
    fxp_ledger_state state;
    uint32_t attempts; /* download attempts so far */
    uint32_t bars;     /* bars the source returned for the day */
    char detail[200];  /* last error or note, "" if none */
};

/* Insert or replace entries, in one transaction. Safe against other
 * processes using the same database (each thread its own handle). */
int fxp_store_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                         size_t n);

typedef int (*fxp_store_ledger_fn)(void *ud, const struct fxp_ledger_entry *e);

/* Entries of symbol/tf with day in [from, to), ascending by day. */
int fxp_store_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                          int64_t from, int64_t to, fxp_store_ledger_fn fn,
                          void *ud);

#endif
