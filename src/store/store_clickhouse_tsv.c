/*
 * store_clickhouse_tsv.c - SQL text and answers of the ClickHouse backend:
 * statements built in the handle's request buffer, string literals quoted
 * for ClickHouse, TabSeparated answers split into unescaped fields, and
 * the 'updated' counter of the meta and ledger tables.
 *
 * Values from users (symbols, meta keys) only reach SQL through
 * fxp__ch_sql_quote; everything a batch writes travels as RowBinary.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/err.h"
#include "store/store_clickhouse_int.h"

#define MAX_FIELDS 16

int fxp__chbuf_reserve(struct fxp__chbuf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->cap - b->len > n)
        return FXP_OK;
    cap = b->cap ? b->cap : 4096;
    while (cap - b->len <= n) {
        if (cap > SIZE_MAX / 2)
            return FXP_ENOMEM;
        cap *= 2;
    }
    p = realloc(b->p, cap);
    if (!p)
        return FXP_ENOMEM;
    b->p = p;
    b->cap = cap;
    return FXP_OK;
}

int fxp__ch_sql(struct fxp__ch *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || fxp__chbuf_reserve(&c->req, (size_t)n + 1) != FXP_OK)
        return FXP_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(c->req.p + c->req.len, c->req.cap - c->req.len, fmt, ap);
    va_end(ap);
    c->req.len += (size_t)n;
    return FXP_OK;
}

int fxp__ch_sql_quote(struct fxp__ch *c, const char *s)
{
    size_t n = strlen(s);
    char *p;

    if (n > SIZE_MAX / 4 - 4 || fxp__chbuf_reserve(&c->req, 4 * n + 3))
        return FXP_ENOMEM;
    p = c->req.p + c->req.len;
    *p++ = '\'';
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        static const char hex[] = "0123456789abcdef";
        if (*u == '\\' || *u == '\'') {
            *p++ = '\\';
            *p++ = (char)*u;
        } else if (*u < 0x20 || *u == 0x7f) {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[*u >> 4];
            *p++ = hex[*u & 15];
        } else {
            *p++ = (char)*u;
        }
    }
    *p++ = '\'';
    *p = '\0';
    c->req.len = (size_t)(p - c->req.p);
    return FXP_OK;
}

uint64_t fxp__ch_next_updated(struct fxp__ch *c)
{
    struct timespec ts;
    uint64_t now;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    c->last_updated = now > c->last_updated ? now : c->last_updated + 1;
    return c->last_updated;
}

/* Undo TabSeparated escaping in place. */
static void unescape(char *f)
{
    char *w = f;

    for (const char *r = f; *r; r++) {
        if (*r != '\\' || !r[1]) {
            *w++ = *r;
            continue;
        }
        switch (*++r) {
        case 'n':
            *w++ = '\n';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case '0':
            *w++ = '\0';
            break;
        default:
            *w++ = *r; /* \\ \' and anything else: the character */
        }
    }
    *w = '\0';
}

int fxp__ch_select(struct fxp__ch *c, char *err, size_t errlen,
                   const char *what, int want_fields, fxp__ch_row_fn fn,
                   void *ud)
{
    struct fxp__chbuf own;
    char *line, *next, *f[MAX_FIELDS];
    int rc = fxp__ch_exec(c, err, errlen, what, FXP__CH_WHOLE);

    if (rc != FXP_OK)
        return rc;
    /* Detach the answer: fn may run another request on this handle. */
    own = c->resp;
    memset(&c->resp, 0, sizeof c->resp);
    for (line = own.p; rc == FXP_OK && line < own.p + own.len; line = next) {
        int nf = 0;
        char *p = line;

        next = strchr(line, '\n');
        next = next ? next + 1 : own.p + own.len;
        if (next[-1] == '\n')
            next[-1] = '\0';
        f[nf++] = p;
        while (nf <= MAX_FIELDS && (p = strchr(p, '\t')) != NULL) {
            *p++ = '\0';
            if (nf < MAX_FIELDS)
                f[nf] = p;
            nf++;
        }
        if (nf != want_fields) {
            if (strstr(line, "Code: ")) {
                rc = fxp__ch_server_error(c, line, 0, err, errlen, what);
            } else {
                snprintf(err, errlen,
                         "cannot %s '%s': unexpected answer '%.80s' (%d "
                         "fields, want %d)",
                         what, c->url, line, nf, want_fields);
                rc = FXP_EIO;
            }
            break;
        }
        for (int i = 0; i < nf; i++)
            unescape(f[i]);
        err[0] = '\0';
        rc = fn(ud, f, nf);
        if (rc < 0 && !err[0])
            snprintf(err, errlen,
                     "cannot %s '%s': unexpected value in answer '%.40s'", what,
                     c->url, f[0]);
        if (rc == 1) {
            rc = FXP_OK;
            break;
        }
    }
    /* Give the buffer back (keep the larger one if fn made another). */
    if (c->resp.cap >= own.cap) {
        free(own.p);
    } else {
        free(c->resp.p);
        c->resp = own;
    }
    c->resp.len = 0;
    if (c->resp.p)
        c->resp.p[0] = '\0';
    else if (fxp__chbuf_reserve(&c->resp, 1) == FXP_OK)
        c->resp.p[0] = '\0';
    return rc;
}

int fxp__ch_i64(const char *f, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(f, &end, 10);
    if (!*f || *end || errno)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int fxp__ch_u64(const char *f, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (*f == '-')
        return -1;
    v = strtoull(f, &end, 10);
    if (!*f || *end || errno)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int fxp__ch_f64(const char *f, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(f, &end);
    if (!*f || *end || (errno && errno != ERANGE))
        return -1;
    return 0;
}
