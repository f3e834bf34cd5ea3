/*
 * store_clickhouse_http.c - the ClickHouse backend's wire layer: the store
 * URL, one libcurl easy handle per store (the connection is kept alive
 * between requests), requests with SQL or RowBinary bodies and the mapping
 * of failures to fxp_err. SQL text and answers: store_clickhouse_tsv.c.
 *
 * Design notes
 *
 *  1. Every request is a POST to http://HOST:PORT/ with database=DB and
 *     max_execution_time (the statement timeout in whole seconds, rounded
 *     up) in the query string. SQL statements travel in the body; an
 *     INSERT names its statement in the URL ("query=") and carries the
 *     RowBinary rows in the body. CURLOPT_TIMEOUT_MS is the statement
 *     timeout and CURLOPT_CONNECTTIMEOUT_MS the connect timeout, so a
 *     server that hangs is noticed from both sides.
 *  2. The request body and the answer each live in one growing buffer
 *     owned by the handle and reused by every call: a steady stream of
 *     batches allocates nothing. An answer larger than RESP_MAX fails with
 *     FXP_ETOOLARGE instead of growing without end; readers page their
 *     queries well below it.
 *  3. ClickHouse reports errors as a non-200 status with a body
 *     "Code: N, e.displayText() = DB::Exception: TEXT, e.what() = ...".
 *     The text and code go into the message; the code picks the fxp_err.
 *     An error met after the first rows were sent would arrive as the
 *     tail of a 200 answer; SELECTs therefore ask for wait_end_of_query=1
 *     (the server holds the answer until the query ended), and
 *     fxp__ch_select (store_clickhouse_tsv.c) still reports such a tail,
 *     a row that does not parse, the same way.
 *  4. Proxies from the environment are not used: a store is a database
 *     connection, not a web request.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "fxpipe/err.h"
#include "store/store_clickhouse_int.h"

#define RESP_MAX     ((size_t)512 << 20) /* note 2 */
#define DEFAULT_PORT 8123

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct fxp__ch *c = ud;
    size_t n = size * nmemb;

    if (n > RESP_MAX - c->resp.len || fxp__chbuf_reserve(&c->resp, n) != FXP_OK)
        return 0; /* CURLE_WRITE_ERROR */
    memcpy(c->resp.p + c->resp.len, ptr, n);
    c->resp.len += n;
    c->resp.p[c->resp.len] = '\0';
    return n;
}

/* Only [A-Za-z0-9_]: the database name is used unquoted in the URL and
 * backquoted in SQL. */
static int db_name_ok(const char *s, size_t n)
{
    if (!n || n >= sizeof(((struct fxp__ch *)0)->db))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static int host_char_ok(char ch, int bracketed)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' ||
           (bracketed && (ch == ':' || ch == '%'));
}

/* "clickhouse://[USER[:PASSWORD]@]HOST[:PORT][/DB]": host (with brackets
 * for IPv6), port and database into c, credentials to curl. */
static int parse_url(struct fxp__ch *c, const char *url, char *errbuf,
                     size_t errlen)
{
    const char *p = url + strlen("clickhouse://"), *at, *h, *h_end;
    char host[256], userpwd[256] = "";
    long port = DEFAULT_PORT;
    int bracketed = 0;
    size_t n;

    at = strchr(p, '@');
    if (at && (!strchr(p, '/') || at < strchr(p, '/'))) {
        n = (size_t)(at - p);
        if (!n || n >= sizeof userpwd)
            goto bad;
        memcpy(userpwd, p, n);
        userpwd[n] = '\0';
        p = at + 1;
    }
    h = p;
    if (*p == '[') {
        bracketed = 1;
        h = ++p;
        while (host_char_ok(*p, 1))
            p++;
        if (*p != ']')
            goto bad;
        h_end = p++;
    } else {
        while (host_char_ok(*p, 0))
            p++;
        h_end = p;
    }
    n = (size_t)(h_end - h);
    if (!n || n >= sizeof host)
        goto bad;
    memcpy(host, h, n);
    host[n] = '\0';
    if (*p == ':') {
        char *end;
        errno = 0;
        port = strtol(p + 1, &end, 10);
        if (end == p + 1 || errno || port < 1 || port > 65535)
            goto bad;
        p = end;
    }
    if (*p == '/')
        p++;
    n = strlen(p);
    if (!n) {
        p = "default";
        n = strlen(p);
    }
    if (!db_name_ok(p, n))
        goto bad;
    memcpy(c->db, p, n);
    c->db[n] = '\0';

    n = strlen(host) + 96;
    c->base = malloc(n);
    if (!c->base) {
        snprintf(errbuf, errlen, "cannot open store '%s': out of memory",
                 c->url);
        return FXP_ENOMEM;
    }
    snprintf(c->base, n, "http://%s%s%s:%ld/", bracketed ? "[" : "", host,
             bracketed ? "]" : "", port);
    if (userpwd[0] && curl_easy_setopt(c->curl, CURLOPT_USERPWD, userpwd))
        goto bad;
    return FXP_OK;

bad:
    snprintf(errbuf, errlen,
             "bad store url '%s' (expected clickhouse://HOST[:PORT][/DB], "
             "DB of letters, digits and '_')",
             c->url);
    return FXP_EINVAL;
}

/* The URL as given, with a password replaced by "***". */
static char *redact(const char *url)
{
    const char *p = url + strlen("clickhouse://");
    const char *at = strchr(p, '@'), *colon = strchr(p, ':');
    size_t n = strlen(url) + 4;
    char *out = malloc(n);

    if (!out)
        return NULL;
    if (at && colon && colon < at && (!strchr(p, '/') || at < strchr(p, '/')))
        snprintf(out, n, "%.*s***%s", (int)(colon + 1 - url), url, at);
    else
        snprintf(out, n, "%s", url);
    return out;
}

int fxp__ch_init(struct fxp__ch *c, const char *url,
                 const struct fxp_store_opts *o, char *errbuf, size_t errlen)
{
    CURL *curl;
    long max_s = 0;
    int rc;

    c->url = redact(url);
    if (c->url && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {
        c->curl = curl = curl_easy_init();
        if (!curl)
            curl_global_cleanup(); /* release pairs cleanup with c->curl */
    }
    if (!c->curl) {
        snprintf(errbuf, errlen, "cannot open store '%s': out of memory",
                 c->url ? c->url : "clickhouse://...");
        return FXP_ENOMEM;
    }
    rc = parse_url(c, url, errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    c->hdrs = curl_slist_append(NULL, "Expect:");
    if (!c->hdrs || fxp__chbuf_reserve(&c->req, 1 << 16) != FXP_OK ||
        fxp__chbuf_reserve(&c->resp, 1 << 16) != FXP_OK) {
        snprintf(errbuf, errlen, "cannot open store '%s': out of memory",
                 c->url);
        return FXP_ENOMEM;
    }
    c->req.p[0] = c->resp.p[0] = '\0';
    if (o->statement_timeout_ms > 0)
        max_s = (o->statement_timeout_ms + 999) / 1000;
    /* The base URL names the statement timeout; the database is added per
     * request (CREATE DATABASE must not name it). */
    {
        size_t n = strlen(c->base) + 48;
        char *b = malloc(n);
        if (!b) {
            snprintf(errbuf, errlen, "cannot open store '%s': out of memory",
                     c->url);
            return FXP_ENOMEM;
        }
        snprintf(b, n, "%s?max_execution_time=%ld", c->base, max_s);
        free(c->base);
        c->base = b;
    }
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* note 4 */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, (struct curl_slist *)c->hdrs);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(
        curl, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 0));
    curl_easy_setopt(
        curl, CURLOPT_TIMEOUT_MS,
        (long)(o->statement_timeout_ms > 0 ? o->statement_timeout_ms : 0));
    return FXP_OK;
}

void fxp__ch_release(struct fxp__ch *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
    }
    curl_slist_free_all(c->hdrs);
    free(c->url);
    free(c->base);
    free(c->req.p);
    free(c->resp.p);
    free(c->url_buf.p);
}

/* The fxp_err for a ClickHouse error code (ErrorCodes.cpp). */
static int map_code(long code)
{
    switch (code) {
    case 159: /* TIMEOUT_EXCEEDED */
    case 209: /* SOCKET_TIMEOUT */
        return FXP_ETIMEDOUT;
    case 210: /* NETWORK_ERROR */
        return FXP_EUNAVAIL;
    case 243: /* NOT_ENOUGH_SPACE */
        return FXP_ENOSPC;
    case 202: /* TOO_MANY_SIMULTANEOUS_QUERIES */
    case 252: /* TOO_MANY_PARTS */
        return FXP_EAGAIN;
    default:
        return FXP_EIO;
    }
}

int fxp__ch_server_error(struct fxp__ch *c, const char *text, long http,
                         char *err, size_t errlen, const char *what)
{
    const char *code_at = strstr(text, "Code: ");
    const char *msg, *end;
    long code;

    if (!code_at) {
        size_t n = strcspn(text, "\r\n");
        snprintf(err, errlen, "cannot %s '%s': HTTP %ld: %.*s", what, c->url,
                 http, (int)(n > 200 ? 200 : n), text);
        return http >= 502 && http <= 504 ? FXP_EUNAVAIL : FXP_EIO;
    }
    code = strtol(code_at + 6, NULL, 10);
    msg = strstr(code_at, "e.displayText() = ");
    msg = msg ? msg + strlen("e.displayText() = ") : code_at;
    if (!strncmp(msg, "DB::Exception: ", 15))
        msg += 15;
    end = strstr(msg, ", e.what() = ");
    if (!end)
        end = msg + strcspn(msg, "\r\n");
    while (end > msg && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    snprintf(err, errlen, "cannot %s '%s': ClickHouse error %ld: %.*s", what,
             c->url, code, (int)(end - msg > 300 ? 300 : end - msg), msg);
    return map_code(code);
}

/* POST body[0..len) to the URL in c->url_buf; the answer into c->resp. */
static int perform(struct fxp__ch *c, const char *body, size_t len, char *err,
                   size_t errlen, const char *what)
{
    CURL *curl = c->curl;
    CURLcode crc;
    long http = 0;

    c->resp.len = 0;
    if (fxp__chbuf_reserve(&c->resp, 1) != FXP_OK) {
        snprintf(err, errlen, "cannot %s '%s': out of memory", what, c->url);
        return FXP_ENOMEM;
    }
    c->resp.p[0] = '\0';
    c->curl_err[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, c->url_buf.p);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    crc = curl_easy_perform(curl);
    if (crc != CURLE_OK) {
        int rc;
        switch (crc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
            rc = FXP_EUNAVAIL;
            break;
        case CURLE_OPERATION_TIMEDOUT:
            rc = FXP_ETIMEDOUT;
            break;
        case CURLE_OUT_OF_MEMORY:
            rc = FXP_ENOMEM;
            break;
        case CURLE_WRITE_ERROR:
            snprintf(err, errlen,
                     "cannot %s '%s': answer larger than %zu bytes", what,
                     c->url, RESP_MAX);
            return FXP_ETOOLARGE;
        default:
            rc = FXP_EIO;
        }
        snprintf(err, errlen, "cannot %s '%s': %s", what, c->url,
                 c->curl_err[0] ? c->curl_err : curl_easy_strerror(crc));
        return rc;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
    if (http != 200)
        return fxp__ch_server_error(c, c->resp.p, http, err, errlen, what);
    return FXP_OK;
}

/* c->url_buf = base + database (unless FXP__CH_NO_DB) + wait_end_of_query
 * (FXP__CH_WHOLE) + "&query=" + escaped insert (when given). */
static int make_url(struct fxp__ch *c, int flags, const char *insert)
{
    int no_db = flags & FXP__CH_NO_DB;
    char *q = NULL;
    size_t n;

    if (insert && !(q = curl_easy_escape(c->curl, insert, 0)))
        return FXP_ENOMEM;
    n = strlen(c->base) + sizeof c->db + 48 + (q ? strlen(q) + 8 : 0);
    c->url_buf.len = 0;
    if (fxp__chbuf_reserve(&c->url_buf, n) != FXP_OK) {
        curl_free(q);
        return FXP_ENOMEM;
    }
    snprintf(c->url_buf.p, c->url_buf.cap, "%s%s%s%s%s%s", c->base,
             no_db ? "" : "&database=", no_db ? "" : c->db,
             flags & FXP__CH_WHOLE ? "&wait_end_of_query=1" : "",
             q ? "&query=" : "", q ? q : "");
    curl_free(q);
    return FXP_OK;
}

int fxp__ch_exec(struct fxp__ch *c, char *err, size_t errlen, const char *what,
                 int flags)
{
    if (make_url(c, flags, NULL) != FXP_OK) {
        snprintf(err, errlen, "cannot %s '%s': out of memory", what, c->url);
        return FXP_ENOMEM;
    }
    return perform(c, c->req.p, c->req.len, err, errlen, what);
}

int fxp__ch_insert(struct fxp__ch *c, char *err, size_t errlen,
                   const char *what, const char *insert)
{
    if (make_url(c, 0, insert) != FXP_OK) {
        snprintf(err, errlen, "cannot %s '%s': out of memory", what, c->url);
        return FXP_ENOMEM;
    }
    return perform(c, c->req.p, c->req.len, err, errlen, what);
}
