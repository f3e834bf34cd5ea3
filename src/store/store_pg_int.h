/*
 * store_pg_int.h - what the PostgreSQL backend's files share (internal):
 * the handle's state; the connection and errors (store_pg.c) and small
 * helpers (store_pg_util.c); the schema (store_pg_schema.c) and tick
 * partitions (store_pg_ticks.c); the write path (store_pg_write.c,
 * store_pg_copy.c, store_pg_series.c); the read-only ops (store_pg_read.c,
 * store_pg_gaps.c). docs/stores/postgresql.md describes the design.
 */
#ifndef FXPIPE_STORE_PG_INT_H
#define FXPIPE_STORE_PG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <math.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/store_int.h"

#define FXP__PG_SCHEMA_VERSION 1

/* Type OIDs of the parameters and columns exchanged in binary. */
#define FXP__PG_INT4        23
#define FXP__PG_INT8        20
#define FXP__PG_TEXT        25
#define FXP__PG_FLOAT8      701
#define FXP__PG_DATE        1082
#define FXP__PG_TIMESTAMPTZ 1184

#define FXP__PG_DAY_MS 86400000LL
/* 2000-01-01 (PostgreSQL's epoch for timestamptz and date) in Unix ms. */
#define FXP__PG_EPOCH_MS 946684800000LL
/* Unix ms that timestamptz can hold: [4714-11-24 BC, 294277-01-01). */
#define FXP__PG_MIN_MS (-210866803200000LL)
#define FXP__PG_END_MS 9224318016000000LL

/* How the ticks table is laid out (store_pg_schema.c). */
enum fxp__pg_ticks_mode {
    FXP__PG_TICKS_NATIVE = 0,    /* PARTITION BY RANGE (ts), one per day */
    FXP__PG_TICKS_TIMESCALE = 1, /* a TimescaleDB hypertable, daily chunks */
    FXP__PG_TICKS_PLAIN = 2      /* a plain table (made by someone else) */
};

/* The write path's memory of the newest bar per series (store_pg_write.c
 * note 3). Fixed size; emptied at the start of a batch when two thirds
 * of its limit are in use. */
#define FXP__PG_SERIES_SLOTS 2048
struct fxp__pg_series {
    char symbol[16];
    uint8_t tf;
    uint8_t state;     /* 0 free, 1 asked for, 2 known */
    uint8_t has_max;   /* the server holds bars of the series */
    uint8_t touched;   /* written by the current batch */
    int64_t max_ms;    /* newest stored bar, when has_max */
    int64_t batch_max; /* newest bar of the current batch */
};

/* Days whose tick partition is known to exist (native mode). */
#define FXP__PG_DAYS_MAX 4096

/* The state behind a PostgreSQL store's s->impl. */
struct fxp__pg {
    PGconn *conn;
    char name[256]; /* postgresql://USER@HOST:PORT/DB, never a password */
    int ticks_mode; /* enum fxp__pg_ticks_mode */
    bool staged;    /* the TEMP staging tables exist on this connection */
    bool broken;    /* reset the connection before the next call */

    /* COPY data: one buffer, flushed to the server when full. */
    unsigned char *buf;
    size_t len, cap;

    /* Per-bar marks and the duplicate table of the batch being written. */
    uint32_t *mark;
    size_t mark_cap;
    uint32_t *slot;
    size_t slot_cap;

    struct fxp__pg_series series[FXP__PG_SERIES_SLOTS];
    size_t n_series;
    uint16_t touched[FXP__PG_SERIES_SLOTS];
    size_t n_touched;

    int32_t days[FXP__PG_DAYS_MAX]; /* sorted day numbers (Unix days) */
    size_t n_days;
};

/* ---- store_pg.c: connection, errors, queries ---- */

/* Make sure the connection is usable: after a connection error the next
 * call resets it once (PQreset). Returns FXP_OK or FXP_EUNAVAIL with
 * "cannot <what> 'NAME': ..." in s->err. */
int fxp__pg_ready(struct fxp_store *s, const char *what);

/* Map an SQLSTATE to an fxp_err (docs/stores/postgresql.md, errors). */
int fxp__pg_sqlstate_err(const char *sqlstate);

/* Describe a failed result (or, res NULL, the connection's last error) as
 * "cannot <what> 'NAME': <message> (SQLSTATE xxxxx)" in s->err, roll back
 * an open transaction, flag a lost connection and return the fxp_err.
 * Does not clear res. */
int fxp__pg_fail(struct fxp_store *s, const PGresult *res, const char *what);

/* Query parameters, text or binary, at most FXP__PG_MAX_PARAMS. */
#define FXP__PG_MAX_PARAMS 8
struct fxp__pg_params {
    int n;
    unsigned int types[FXP__PG_MAX_PARAMS];
    const char *values[FXP__PG_MAX_PARAMS];
    int lengths[FXP__PG_MAX_PARAMS];
    int formats[FXP__PG_MAX_PARAMS];
    char bin[FXP__PG_MAX_PARAMS][8];
};

void fxp__pg_p_text(struct fxp__pg_params *p, const char *v);
void fxp__pg_p_int8(struct fxp__pg_params *p, int64_t v);
void fxp__pg_p_int4(struct fxp__pg_params *p, int32_t v);
/* A date given as a Unix day number. */
void fxp__pg_p_date(struct fxp__pg_params *p, int64_t unix_day);
/* A timestamptz given as microseconds since 2000-01-01. */
void fxp__pg_p_ts_us(struct fxp__pg_params *p, int64_t us);

/* Run sql with p (may be NULL), results in binary. Returns FXP_OK with
 * *out set (PGRES_TUPLES_OK or PGRES_COMMAND_OK; the caller clears it),
 * or an fxp_err from fxp__pg_fail with *out NULL. */
int fxp__pg_exec(struct fxp_store *s, const char *sql,
                 const struct fxp__pg_params *p, PGresult **out,
                 const char *what);

/* Run sql through the simple protocol (several statements allowed, text
 * results); *out (may be NULL) as for fxp__pg_exec. */
int fxp__pg_run(struct fxp_store *s, const char *sql, PGresult **out,
                const char *what);

/* fxp__pg_exec that drops the result. */
int fxp__pg_cmd(struct fxp_store *s, const char *sql,
                const struct fxp__pg_params *p, const char *what);

/* Binary column values: big-endian integers, IEEE doubles, timestamptz
 * (microseconds since 2000) as Unix ms floored, date as Unix ms. */
int64_t fxp__pg_get_int8(const PGresult *r, int row, int col);
int32_t fxp__pg_get_int4(const PGresult *r, int row, int col);
double fxp__pg_get_float8(const PGresult *r, int row, int col);
int64_t fxp__pg_get_ts_us(const PGresult *r, int row, int col);
int64_t fxp__pg_get_ts_ms(const PGresult *r, int row, int col);
int64_t fxp__pg_get_date_ms(const PGresult *r, int row, int col);

/* Unix day numbers a date column holds. */
#define FXP__PG_DATE_MIN_DAY (-2440588LL)
#define FXP__PG_DATE_END_DAY 2145042906LL

/* Unix ms <-> microseconds since 2000; ms must be in [MIN_MS, END_MS). */
static inline int64_t fxp__pg_ms_to_us(int64_t ms)
{
    return (ms - FXP__PG_EPOCH_MS) * 1000;
}

/* A query range [from, to) in Unix ms as timestamptz microseconds, clamped
 * to what timestamptz holds. Returns false when the range is empty. */
bool fxp__pg_range_us(int64_t from, int64_t to, int64_t *from_us,
                      int64_t *to_us);

/* UTC midnight at or before ts (floored for negative times). */
int64_t fxp__pg_floor_day(int64_t ts);

/* True when s is NUL-terminated valid UTF-8 (what a text column holds). */
bool fxp__pg_utf8_valid(const char *s);

/* Copy s into dst as valid UTF-8: each byte that does not start a valid
 * sequence becomes "\xNN". dst needs 4 * strlen(s) bytes; no NUL is
 * written. Returns the bytes written. */
size_t fxp__pg_utf8_copy(char *dst, const char *s);

/* Forget the per-connection caches (series, partitions, staging). */
void fxp__pg_forget(struct fxp__pg *q);

/* ---- store_pg_schema.c ---- */

/* Bring the schema to FXP__PG_SCHEMA_VERSION (one transaction under an
 * advisory lock), find out how ticks are stored and report it through
 * s->opts.on_note. Errors go to errbuf naming q->name. */
int fxp__pg_setup(struct fxp_store *s, char *errbuf, size_t errlen);

/* Create the daily tick partitions the ticks need (native mode; nothing
 * in the others). Outside the batch's transaction. */
int fxp__pg_tick_days(struct fxp_store *s, const struct fxp_tick *t, size_t n);

int fxp__pg_prune_ticks(struct fxp_store *s, uint64_t *n_deleted);

/* ---- store_pg_copy.c: binary COPY from one reusable buffer ---- */

/* COPY table FROM STDIN (FORMAT binary) and the file header. */
int fxp__pg_copy_begin(struct fxp_store *s, const char *table);

/* Room for n more bytes in q->buf: flushes, or grows for a huge row. On
 * failure the COPY is aborted and the error returned. */
int fxp__pg_copy_need(struct fxp_store *s, size_t n);

/* The trailer, flush, end; *unique (may be NULL) is set when the COPY
 * failed on a duplicate key (SQLSTATE 23505). */
int fxp__pg_copy_end(struct fxp_store *s, bool *unique);

/* Field encoders, after fxp__pg_copy_need made room: a big-endian integer
 * of n bytes, an int8 field, a float8 field (NaN as NULL), a text field. */
static inline void fxp__pg_put_be(struct fxp__pg *q, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        q->buf[q->len + (size_t)i] = (unsigned char)(v & 0xff);
    q->len += (size_t)n;
}

static inline void fxp__pg_put_i64(struct fxp__pg *q, int64_t v)
{
    fxp__pg_put_be(q, 8, 4);
    fxp__pg_put_be(q, (uint64_t)v, 8);
}

static inline void fxp__pg_put_f8(struct fxp__pg *q, double d)
{
    uint64_t u;

    if (isnan(d)) { /* NULL, read back as 0 */
        fxp__pg_put_be(q, 0xFFFFFFFFu, 4);
        return;
    }
    memcpy(&u, &d, sizeof u);
    fxp__pg_put_be(q, 8, 4);
    fxp__pg_put_be(q, u, 8);
}

static inline void fxp__pg_put_str(struct fxp__pg *q, const char *v, size_t n)
{
    fxp__pg_put_be(q, n, 4);
    memcpy(q->buf + q->len, v, n);
    q->len += n;
}

/* A text as valid UTF-8 (fxp__pg_utf8_copy); room for 4 + 4 * strlen. */
static inline void fxp__pg_put_utf8(struct fxp__pg *q, const char *v)
{
    size_t at = q->len;
    size_t n = fxp__pg_utf8_copy((char *)q->buf + at + 4, v ? v : "");

    fxp__pg_put_be(q, n, 4);
    q->len = at + 4 + n;
}

/* ---- store_pg_series.c: newest bar per series, duplicates ---- */

#define FXP__PG_NO_SERIES 0xFFFFu
#define FXP__PG_LOSER     (1u << 16) /* a duplicate key that loses */
#define FXP__PG_FAST      (1u << 17) /* COPYed straight into bars */
enum { FXP__PG_S_FREE = 0, FXP__PG_S_ASKED = 1, FXP__PG_S_KNOWN = 2 };

/* q->mark[i] = the series slot of bar i (or FXP__PG_NO_SERIES) with
 * FXP__PG_LOSER on a losing duplicate; touched series get batch_max. */
int fxp__pg_mark_bars(struct fxp_store *s, const struct fxp_store_batch *b);

/* Ask the server, in one query, for the newest bar of every touched
 * series not known yet. */
int fxp__pg_ask_series(struct fxp_store *s);

void fxp__pg_forget_series(struct fxp__pg *q);

/* ---- store_pg_write.c ---- */

int fxp__pg_write(struct fxp_store *s, const struct fxp_store_batch *b);

/* ---- store_pg_read.c ---- */

int fxp__pg_meta_get(struct fxp_store *s, const char *key, char *val,
                     size_t len);
/* FXP_OK for a known timeframe, else FXP_EINVAL naming it in s->err. */
int fxp__pg_check_tf(struct fxp_store *s, fxp_tf tf);

/* Called per row of a page; non-zero stops the scan. */
typedef int (*fxp__pg_row_fn)(void *ud, PGresult *r, int i);

/* Run sql (params: symbol, timeframe, ts >= from, ts < to; ordered by ts,
 * LIMIT 8192, ts in column 0) page by page, each page continuing after the
 * last ts of the one before, calling row for every row. */
int fxp__pg_page_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, const char *sql,
                      fxp__pg_row_fn row, void *ud);

int fxp__pg_scan_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud);
int fxp__pg_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud);
int fxp__pg_counts(struct fxp_store *s, uint64_t *n_ticks, uint64_t *n_rejects);
int fxp__pg_reject_summary(struct fxp_store *s, fxp_store_reason_fn fn,
                           void *ud);

/* ---- store_pg_gaps.c ---- */

int fxp__pg_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_day_fn fn, void *ud);
int fxp__pg_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud);
int fxp__pg_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                       size_t n);
int fxp__pg_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_ledger_fn fn,
                        void *ud);

#endif
