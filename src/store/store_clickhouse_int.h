/*
 * store_clickhouse_int.h - what the ClickHouse backend's files share
 * (internal): the handle's state, the HTTP layer with its request and
 * response buffers (store_clickhouse_http.c), RowBinary encoding, SQL
 * quoting, TabSeparated parsing, and the read-only ops
 * (store_clickhouse_read.c). docs/stores/clickhouse.md has the design.
 */
#ifndef FXPIPE_STORE_CLICKHOUSE_INT_H
#define FXPIPE_STORE_CLICKHOUSE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/store_int.h"

/* What the tables look like; kept in meta 'schema_version'. */
#define FXP__CH_SCHEMA_VERSION 1

/* A growing byte buffer, reused across calls (one per direction). */
struct fxp__chbuf {
    char *p;
    size_t len, cap;
};

/* The state behind a ClickHouse store's s->impl. */
struct fxp__ch {
    void *curl;                /* CURL *: one easy handle, so keep-alive */
    void *hdrs;                /* struct curl_slist *: "Expect:" */
    char *url;                 /* as given, for messages */
    char *base;                /* "http://HOST:PORT/?database=DB&..." */
    char db[64];               /* the database, [A-Za-z0-9_] only */
    struct fxp__chbuf req;     /* SQL or a RowBinary body */
    struct fxp__chbuf resp;    /* the last response body */
    struct fxp__chbuf url_buf; /* base + "&query=..." of an insert */
    char curl_err[256];        /* CURLOPT_ERRORBUFFER */
    uint64_t last_updated;     /* last meta/ledger 'updated' handed out */
};

/* ---- store_clickhouse_http.c: URL, curl handle, requests ---- */

/* Parse "clickhouse://HOST[:PORT][/DB]" into c->base and c->db, set up the
 * curl handle with the options' timeouts. FXP_EINVAL (a bad URL) or
 * FXP_ENOMEM with the reason in errbuf. */
int fxp__ch_init(struct fxp__ch *c, const char *url,
                 const struct fxp_store_opts *o, char *errbuf, size_t errlen);

/* Free everything c holds (not c itself); safe on a half-built c. */
void fxp__ch_release(struct fxp__ch *c);

/* fxp__ch_exec flags: do not name the database (CREATE DATABASE); have
 * the server hold the answer until the query ended (wait_end_of_query), so
 * an error is always an HTTP error, never the tail of a 200 answer. */
#define FXP__CH_NO_DB 1
#define FXP__CH_WHOLE 2

/* Run the SQL in c->req (NUL-terminated) as one request; the body of the
 * answer is in c->resp (NUL-terminated). Failures go to `err` as "cannot <what>
 * 'URL': <detail>" and map: connection refused, reset or unresolved host
 * -> FXP_EUNAVAIL, a timeout (client or server side) -> FXP_ETIMEDOUT, a
 * full disk -> FXP_ENOSPC, too many parts or queries -> FXP_EAGAIN, other
 * server errors -> FXP_EIO. */
int fxp__ch_exec(struct fxp__ch *c, char *err, size_t errlen, const char *what,
                 int flags);

/* INSERT c->req (c->req.len bytes of RowBinary) with `insert`
 * ("INSERT INTO t (cols) FORMAT RowBinary") in the URL. As fxp__ch_exec. */
int fxp__ch_insert(struct fxp__ch *c, char *err, size_t errlen,
                   const char *what, const char *insert);

/* Describe a server error found in text ("Code: N, e.displayText() =
 * ...") as "cannot <what> 'URL': ClickHouse error N: TEXT"; returns the
 * fxp_err of the code. http is the status, 0 for an error met inside a 200
 * answer. */
int fxp__ch_server_error(struct fxp__ch *c, const char *text, long http,
                         char *err, size_t errlen, const char *what);

/* ---- store_clickhouse_tsv.c ---- */

/* Make room for n more bytes in b; FXP_OK or FXP_ENOMEM. */
int fxp__chbuf_reserve(struct fxp__chbuf *b, size_t n);

/* Append printf-formatted text to c->req (kept NUL-terminated);
 * FXP_ENOMEM when it cannot grow. */
int fxp__ch_sql(struct fxp__ch *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append s to c->req as a quoted ClickHouse string literal ('...' with
 * \ and ' and control characters escaped). */
int fxp__ch_sql_quote(struct fxp__ch *c, const char *s);

/* A microsecond counter for 'updated' columns: wall-clock time, but never
 * less than the last value handed out + 1 (newest entry wins). */
uint64_t fxp__ch_next_updated(struct fxp__ch *c);

/* Called per row of a TabSeparated answer with its fields, unescaped and
 * NUL-terminated in place. Return 0 to go on, 1 to stop, or an fxp_err
 * (< 0, with err set) to fail. */
typedef int (*fxp__ch_row_fn)(void *ud, char **f, int nf);

/* Run the SELECT in c->req and call fn per row of the TabSeparated answer.
 * The answer is detached from c while the rows are handed out, so fn may
 * use the store again. Returns FXP_OK (also when fn stopped), fn's error,
 * or an fxp__ch_exec error; a row with a different number of fields than
 * want_fields is FXP_EIO (a server error sent mid-answer shows there). */
int fxp__ch_select(struct fxp__ch *c, char *err, size_t errlen,
                   const char *what, int want_fields, fxp__ch_row_fn fn,
                   void *ud);

/* Parse a whole field as a number; 0 or -1 when it is not one. */
int fxp__ch_i64(const char *f, int64_t *out);
int fxp__ch_u64(const char *f, uint64_t *out);
int fxp__ch_f64(const char *f, double *out);

/* ---- RowBinary: little-endian fixed-width values, varint-length
 * strings. The caller reserved the room. ---- */

static inline char *fxp__rb_u8(char *p, unsigned v)
{
    *p = (char)(unsigned char)v;
    return p + 1;
}

static inline char *fxp__rb_u32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(unsigned char)(v >> (8 * i));
    return p + 4;
}

static inline char *fxp__rb_u64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (char)(unsigned char)(v >> (8 * i));
    return p + 8;
}

static inline char *fxp__rb_f64(char *p, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof u);
    return fxp__rb_u64(p, u);
}

/* A string of n bytes: LEB128 length, then the bytes. At most n + 10. */
static inline char *fxp__rb_str(char *p, const char *s, size_t n)
{
    size_t v = n;

    while (v >= 0x80) {
        *p++ = (char)(unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)(unsigned char)v;
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* ---- store_clickhouse_write.c: writes, for the ops table ---- */

int fxp__ch_write(struct fxp_store *s, const struct fxp_store_batch *b);
int fxp__ch_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                       size_t n);

/* Store one meta row (key, value, a new 'updated'); failures into err as
 * "cannot <what> 'URL': ...". */
int fxp__ch_put_meta(struct fxp_store *s, const char *key, const char *value,
                     char *err, size_t errlen, const char *what);

/* ---- store_clickhouse_read.c: the read-only ops, for the ops table ---- */

int fxp__ch_meta_get(struct fxp_store *s, const char *key, char *val,
                     size_t len);
int fxp__ch_scan_bars(struct fxp_store *s, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud);
int fxp__ch_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud);
int fxp__ch_counts(struct fxp_store *s, uint64_t *n_ticks, uint64_t *n_rejects);
int fxp__ch_reject_summary(struct fxp_store *s, fxp_store_reason_fn fn,
                           void *ud);
int fxp__ch_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                     int64_t from, int64_t to, fxp_store_day_fn fn, void *ud);
int fxp__ch_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud);
int fxp__ch_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_ledger_fn fn,
                        void *ud);

#endif
