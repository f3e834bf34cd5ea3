/*
 * store_pg.c - the PostgreSQL store backend (docs/stores/postgresql.md):
 * open, close, the connection and its recovery, error mapping and the
 * small helpers the other store_pg_*.c files share. The schema and tick
 * partitions are in store_pg_schema.c, the write path in store_pg_write.c,
 * reads in store_pg_read.c and store_pg_gaps.c.
 *
 * Design notes
 *
 *  1. One libpq connection per handle, opened with connect_timeout (from
 *     opts.connect_timeout_ms, at least 1 s), TCP keepalives and
 *     options='-c statement_timeout=N' (opts.statement_timeout_ms) merged
 *     after any options the URI carries. Notices are dropped: the library
 *     never prints.
 *  2. Messages name the server as postgresql://USER@HOST:PORT/DB, rebuilt
 *     from the parsed URI, so a password in it is never shown.
 *  3. Every op starts with fxp__pg_ready: after a connection error (SQLSTATE
 *     class 08, or libpq reporting the connection bad) the next call
 *     resets the connection once (PQreset) and forgets the per-connection
 *     state (staging tables, caches); if that fails it is FXP_EUNAVAIL.
 *  4. Everything a caller supplies goes in as a parameter (PQexecParams);
 *     results come back in binary, so times are exact microseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "store/store_int.h"
#include "store/store_pg_int.h"

/* ---- errors ---- */

int fxp__pg_sqlstate_err(const char *st)
{
    if (!st || strlen(st) != 5)
        return FXP_EIO;
    if (!strncmp(st, "08", 2) || !strncmp(st, "57P0", 4) ||
        !strcmp(st, "53300"))
        return FXP_EUNAVAIL; /* connection, shutdown, too many clients */
    if (!strncmp(st, "53", 2))
        return FXP_ENOSPC; /* disk full, out of memory, limits */
    if (!strcmp(st, "57014") || !strcmp(st, "55P03"))
        return FXP_ETIMEDOUT; /* statement or lock timeout */
    return FXP_EIO;
}

/* Copy a libpq message into dst on one line: newlines and tabs become
 * single spaces, trailing blanks and a trailing period go. */
static void one_line(char *dst, size_t len, const char *msg)
{
    size_t o = 0;
    int space = 0;

    for (const char *p = msg ? msg : ""; *p && o + 1 < len; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < len)
            dst[o++] = ' ';
        space = 0;
        dst[o++] = *p;
    }
    dst[o] = '\0';
}

static void rollback_if_open(PGconn *c)
{
    PGTransactionStatusType t = PQtransactionStatus(c);

    if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
        PQclear(PQexec(c, "ROLLBACK"));
}

int fxp__pg_fail(struct fxp_store *s, const PGresult *res, const char *what)
{
    struct fxp__pg *q = s->impl;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *prim =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[360];
    int rc = fxp__pg_sqlstate_err(state);

    one_line(msg, sizeof msg, prim ? prim : PQerrorMessage(q->conn));
    if (!msg[0])
        snprintf(msg, sizeof msg, "unexpected result %s",
                 res ? PQresStatus(PQresultStatus(res)) : "(none)");
    if (PQstatus(q->conn) != CONNECTION_OK ||
        (state && !strncmp(state, "08", 2))) {
        q->broken = true;
        rc = FXP_EUNAVAIL;
    }
    if (state)
        snprintf(s->err, sizeof s->err,
                 "cannot %s '%.160s': %.300s (SQLSTATE %s)", what, q->name, msg,
                 state);
    else
        snprintf(s->err, sizeof s->err, "cannot %s '%.160s': %.300s", what,
                 q->name, msg);
    if (!q->broken)
        rollback_if_open(q->conn);
    return rc;
}

void fxp__pg_forget(struct fxp__pg *q)
{
    q->staged = false;
    memset(q->series, 0, sizeof q->series);
    q->n_series = 0;
    q->n_touched = 0;
    q->n_days = 0;
}

int fxp__pg_ready(struct fxp_store *s, const char *what)
{
    struct fxp__pg *q = s->impl;
    char msg[360];

    if (!q->broken && PQstatus(q->conn) == CONNECTION_OK) {
        rollback_if_open(q->conn);
        return FXP_OK;
    }
    /* Note 3: one reconnect per call. */
    PQreset(q->conn);
    fxp__pg_forget(q);
    if (PQstatus(q->conn) != CONNECTION_OK) {
        q->broken = true;
        one_line(msg, sizeof msg, PQerrorMessage(q->conn));
        snprintf(s->err, sizeof s->err,
                 "cannot %s '%.160s': connection lost and reconnecting "
                 "failed: %.280s",
                 what, q->name, msg);
        return FXP_EUNAVAIL;
    }
    q->broken = false;
    return FXP_OK;
}

int fxp__pg_exec(struct fxp_store *s, const char *sql,
                 const struct fxp__pg_params *p, PGresult **out,
                 const char *what)
{
    struct fxp__pg *q = s->impl;
    PGresult *r;
    ExecStatusType st;

    *out = NULL;
    r = p ? PQexecParams(q->conn, sql, p->n, p->types, p->values, p->lengths,
                         p->formats, 1)
          : PQexecParams(q->conn, sql, 0, NULL, NULL, NULL, NULL, 1);
    st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        int rc = fxp__pg_fail(s, r, what);
        PQclear(r);
        return rc;
    }
    *out = r;
    return FXP_OK;
}

int fxp__pg_run(struct fxp_store *s, const char *sql, PGresult **out,
                const char *what)
{
    struct fxp__pg *q = s->impl;
    PGresult *r = PQexec(q->conn, sql);
    ExecStatusType st = PQresultStatus(r);

    if (out)
        *out = NULL;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = fxp__pg_fail(s, r, what);
        PQclear(r);
        return rc;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return FXP_OK;
}

int fxp__pg_cmd(struct fxp_store *s, const char *sql,
                const struct fxp__pg_params *p, const char *what)
{
    PGresult *r;
    int rc = fxp__pg_exec(s, sql, p, &r, what);

    PQclear(r);
    return rc;
}

/* ---- open and close ---- */

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Note 2: the URL to show, from the parsed options. */
static void display_name(char *dst, size_t len, PQconninfoOption *opt)
{
    const char *user = NULL, *host = NULL, *addr = NULL, *port = NULL,
               *db = NULL;

    for (PQconninfoOption *o = opt; o && o->keyword; o++) {
        if (!o->val || !o->val[0])
            continue;
        if (!strcmp(o->keyword, "user"))
            user = o->val;
        else if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "hostaddr"))
            addr = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
    }
    snprintf(dst, len, "postgresql://%s%s%s%s%s/%s", user ? user : "",
             user ? "@" : "",
             host   ? host
             : addr ? addr
                    : "",
             port ? ":" : "", port ? port : "", db ? db : "");
}

static const char *opt_value(PQconninfoOption *opt, const char *key)
{
    for (PQconninfoOption *o = opt; o && o->keyword; o++)
        if (!strcmp(o->keyword, key))
            return o->val && o->val[0] ? o->val : NULL;
    return NULL;
}

/* Ports in the URL (a comma-separated list) must be numbers of TCP ports;
 * libpq would only find out when connecting. */
static bool ports_ok(PQconninfoOption *opt)
{
    const char *p = opt_value(opt, "port");

    while (p && *p) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);

        if (end == p || v < 1 || v > 65535 || (*end && *end != ','))
            return false;
        p = *end ? end + 1 : end;
    }
    return true;
}

static int connect_pg(struct fxp_store *s, struct fxp__pg *q, const char *url,
                      PQconninfoOption *opt, char *errbuf, size_t errlen)
{
    const struct fxp_store_opts *o = &s->opts;
    char ct[16], tcp[16], options[512], msg[360];
    const char *kw[12], *val[12];
    const char *uri_opts = opt_value(opt, "options");
    int n = 0, secs = (o->connect_timeout_ms + 999) / 1000;
    int stmt = o->statement_timeout_ms > 0 ? o->statement_timeout_ms : 0;

    if (!uri_opts)
        uri_opts = getenv("PGOPTIONS");
    snprintf(ct, sizeof ct, "%d", secs < 1 ? 1 : secs);
    snprintf(tcp, sizeof tcp, "%d", stmt ? stmt + 10000 : 0);
    if ((size_t)snprintf(options, sizeof options,
                         "%s%s-c statement_timeout=%d "
                         "-c client_min_messages=warning",
                         uri_opts ? uri_opts : "", uri_opts ? " " : "",
                         stmt) >= sizeof options) {
        snprintf(errbuf, errlen,
                 "cannot connect to '%s': options in the URL are too long",
                 q->name);
        return FXP_EINVAL;
    }
    /* Defaults the URI may override come before dbname, what fxpipe
     * needs after it (PQconnectdbParams: the last value wins). */
    kw[n] = "application_name", val[n++] = "fxpipe";
    kw[n] = "connect_timeout", val[n++] = ct;
    kw[n] = "keepalives_idle", val[n++] = "30";
    kw[n] = "keepalives_interval", val[n++] = "10";
    kw[n] = "keepalives_count", val[n++] = "3";
    kw[n] = "tcp_user_timeout", val[n++] = tcp;
    kw[n] = "dbname", val[n++] = url;
    kw[n] = "client_encoding", val[n++] = "UTF8";
    kw[n] = "options", val[n++] = options;
    kw[n] = NULL, val[n] = NULL;

    q->conn = PQconnectdbParams(kw, val, 1);
    if (!q->conn) {
        snprintf(errbuf, errlen, "cannot connect to '%s': out of memory",
                 q->name);
        return FXP_ENOMEM;
    }
    PQsetNoticeProcessor(q->conn, quiet, NULL);
    if (PQstatus(q->conn) != CONNECTION_OK) {
        one_line(msg, sizeof msg, PQerrorMessage(q->conn));
        snprintf(errbuf, errlen, "cannot connect to '%s': %s", q->name, msg);
        return FXP_EUNAVAIL;
    }
    if (PQserverVersion(q->conn) < 120000) {
        snprintf(errbuf, errlen,
                 "cannot open store '%s': PostgreSQL %d.%d is too old "
                 "(12 or newer needed)",
                 q->name, PQserverVersion(q->conn) / 10000,
                 PQserverVersion(q->conn) / 100 % 100);
        return FXP_EIO;
    }
    return FXP_OK;
}

static void pg_close(void *impl)
{
    struct fxp__pg *q = impl;

    if (q->conn)
        PQfinish(q->conn);
    free(q->buf);
    free(q->mark);
    free(q->slot);
    free(q);
}

static const struct fxp_store_ops pg_ops = {
    .name = "postgresql",
    .write = fxp__pg_write,
    .prune_ticks = fxp__pg_prune_ticks,
    .meta_get = fxp__pg_meta_get,
    .scan_bars = fxp__pg_scan_bars,
    .series = fxp__pg_series,
    .counts = fxp__pg_counts,
    .reject_summary = fxp__pg_reject_summary,
    .coverage = fxp__pg_coverage,
    .present = fxp__pg_present,
    /* No bitmaps or summary table: coverage counts the bars (store.c falls
     * back for presence, and a rescan has nothing to rebuild). */
    .presence = NULL,
    .rescan_coverage = NULL,
    .ledger_put = fxp__pg_ledger_put,
    .ledger_scan = fxp__pg_ledger_scan,
    .close = pg_close,
};

int fxp__store_open_pg(struct fxp_store *s, const char *url, char *errbuf,
                       size_t errlen)
{
    PQconninfoOption *opt;
    char *perr = NULL, msg[360];
    struct fxp__pg *q;
    int rc;

    opt = PQconninfoParse(url, &perr);
    if (!opt) {
        rc = perr ? FXP_EINVAL : FXP_ENOMEM;
        one_line(msg, sizeof msg, perr ? perr : "out of memory");
        snprintf(errbuf, errlen, "invalid PostgreSQL store url: %s", msg);
        PQfreemem(perr);
        return rc;
    }
    q = calloc(1, sizeof *q);
    if (!q) {
        PQconninfoFree(opt);
        snprintf(errbuf, errlen, "cannot open store: out of memory");
        return FXP_ENOMEM;
    }
    display_name(q->name, sizeof q->name, opt);
    if (!ports_ok(opt)) {
        snprintf(errbuf, errlen, "invalid port '%s' in store url '%s'",
                 opt_value(opt, "port"), q->name);
        PQconninfoFree(opt);
        free(q);
        return FXP_EINVAL;
    }
    rc = connect_pg(s, q, url, opt, errbuf, errlen);
    PQconninfoFree(opt);
    if (rc == FXP_OK) {
        /* The setup works on the handle (its messages pass through
         * s->err): lend it the state until the setup succeeded. */
        s->impl = q;
        rc = fxp__pg_setup(s, errbuf, errlen);
        s->impl = NULL;
    }
    if (rc != FXP_OK) {
        pg_close(q);
        return rc;
    }
    s->ops = &pg_ops;
    s->impl = q;
    return FXP_OK;
}
