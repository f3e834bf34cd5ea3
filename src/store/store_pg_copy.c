/*
 * store_pg_copy.c - binary COPY FROM STDIN for the PostgreSQL store: the
 * one reusable buffer rows are encoded into (store_pg_int.h's
 * fxp__pg_put_*), flushed with PQputCopyData whenever it is full, and the
 * start and end of a COPY. A row larger than the buffer grows it; nothing
 * else allocates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "store/store_int.h"
#include "store/store_pg_int.h"

/* The COPY's result, after consuming any others: only then does libpq
 * report the transaction state a rollback depends on. */
static PGresult *drain(PGconn *c)
{
    PGresult *r = PQgetResult(c), *x;

    while ((x = PQgetResult(c)))
        PQclear(x);
    return r;
}

static int copy_abort(struct fxp_store *s, const char *why)
{
    struct fxp__pg *q = s->impl;
    PGresult *r;
    int rc;

    q->len = 0;
    PQputCopyEnd(q->conn, why);
    r = drain(q->conn);
    rc = fxp__pg_fail(s, r, "write to");
    PQclear(r);
    return rc;
}

static int flush(struct fxp_store *s)
{
    struct fxp__pg *q = s->impl;

    if (q->len &&
        PQputCopyData(q->conn, (const char *)q->buf, (int)q->len) != 1)
        return copy_abort(s, NULL);
    q->len = 0;
    return FXP_OK;
}

int fxp__pg_copy_need(struct fxp_store *s, size_t n)
{
    struct fxp__pg *q = s->impl;

    if (q->len + n <= q->cap)
        return FXP_OK;
    int rc = flush(s);
    if (rc != FXP_OK || n <= q->cap)
        return rc;
    unsigned char *nb = realloc(q->buf, n);
    if (!nb) {
        copy_abort(s, "out of memory");
        snprintf(s->err, sizeof s->err, "cannot write to '%s': out of memory",
                 q->name);
        return FXP_ENOMEM;
    }
    q->buf = nb;
    q->cap = n;
    return FXP_OK;
}

int fxp__pg_copy_begin(struct fxp_store *s, const char *table)
{
    static const unsigned char sig[19] = "PGCOPY\n\377\r\n";
    struct fxp__pg *q = s->impl;
    char sql[160];
    PGresult *r;

    snprintf(sql, sizeof sql, "COPY %s FROM STDIN (FORMAT binary)", table);
    r = PQexec(q->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        int rc = fxp__pg_fail(s, r, "write to");
        PQclear(r);
        return rc;
    }
    PQclear(r);
    memcpy(q->buf, sig, sizeof sig); /* signature, flags 0, no extension */
    q->len = sizeof sig;
    return FXP_OK;
}

int fxp__pg_copy_end(struct fxp_store *s, bool *unique)
{
    struct fxp__pg *q = s->impl;
    PGresult *r;
    int rc = fxp__pg_copy_need(s, 2);

    if (rc != FXP_OK)
        return rc;
    fxp__pg_put_be(q, 0xFFFF, 2);
    rc = flush(s);
    if (rc != FXP_OK)
        return rc;
    if (PQputCopyEnd(q->conn, NULL) != 1)
        return copy_abort(s, NULL);
    r = drain(q->conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (unique)
            *unique = st && !strcmp(st, "23505");
        rc = fxp__pg_fail(s, r, "write to");
    }
    PQclear(r);
    return rc;
}
