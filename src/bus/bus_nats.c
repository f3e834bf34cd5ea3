/*
 * bus_nats.c - the NATS JetStream backend of the bus (bus.h, bus_int.h):
 * the connection to a server list, the two streams, ping and close.
 * Publishing is in bus_nats_pub.c, consuming in bus_nats_sub.c; subjects,
 * streams and headers are described in docs/wire-format.md.
 *
 * Design notes
 *
 *  1. Connecting: every "host:port" of the list becomes "nats://host:port".
 *     Once connected the library reconnects forever (250 ms apart, across
 *     the list), but a first connect to a port nobody listens on fails at
 *     once, so it is retried here, 200 ms apart, until connect_timeout_ms.
 *     Pings go every 5 s with 3 outstanding at most, so a server that
 *     stops answering without closing the socket is noticed in ~15 s.
 *  2. Streams: "<PREFIX>_TICKS" on "<prefix>.ticks.>" and "<PREFIX>_BARS"
 *     on "<prefix>.bars.>" (the prefix upper-cased, '.' -> '_'), file
 *     storage, limits retention with MaxAge = max_age_ms, a 2-minute
 *     de-duplication window for Nats-Msg-Id. Adding an identical stream is
 *     a no-op; one that differs (JetStream error 10058) is accepted when it
 *     captures our subjects (its limits are left alone), refused with
 *     FXP_EIO otherwise. Just after a server starts JetStream may not
 *     answer yet: that is retried until the connect deadline too.
 *  3. The publish callbacks share a small refcounted struct fxp_nats_cbs
 *     with the handle: the connection's closed callback drops its
 *     reference, so a callback that runs late never sees freed memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus_nats_int.h"
#include "fxpipe/err.h"

#define CONNECT_RETRY_MS 200
#define RECONNECT_WAIT   250
#define PING_INTERVAL_MS 5000
#define MAX_PINGS_OUT    3
#define MAX_SERVERS      32

int fxp__nats_err(natsStatus s)
{
    switch (s) {
    case NATS_OK:
        return FXP_OK;
    case NATS_TIMEOUT:
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NO_RESPONDERS:
    case NATS_NOT_YET_CONNECTED:
    case NATS_IO_ERROR:
    case NATS_INSUFFICIENT_BUFFER:
        return FXP_EUNAVAIL;
    case NATS_NO_MEMORY:
        return FXP_ENOMEM;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
        return FXP_EINVAL;
    default:
        return FXP_EIO;
    }
}

/* The library's text for s: its thread-local detail when that is about
 * s, else the status's name. */
static const char *nats_detail(natsStatus s)
{
    natsStatus last = NATS_OK;
    const char *t = nats_GetLastError(&last), *e;

    if (!t || !*t || last != s)
        return natsStatus_GetText(s);
    if (t[0] == '(' && (e = strstr(t, "): ")) != NULL) /* "(conn.c:12): " */
        t = e + 3;
    return t;
}

int fxp__nats_fail(struct fxp_nats *n, natsStatus s, const char *what)
{
    snprintf(n->b->err, sizeof n->b->err, "%s: %s", what, nats_detail(s));
    return fxp__nats_err(s);
}

bool fxp__nats_connected(const struct fxp_nats *n)
{
    return natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* ---- the callbacks' shared state (note 3) ---- */

static struct fxp_nats_cbs *cbs_new(void)
{
    struct fxp_nats_cbs *c = calloc(1, sizeof *c);

    if (c && pthread_mutex_init(&c->mu, NULL)) {
        free(c);
        return NULL;
    }
    if (c)
        c->refs = 1;
    return c;
}

static void cbs_release(struct fxp_nats_cbs *c)
{
    int left;

    pthread_mutex_lock(&c->mu);
    left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void fxp__nats_on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    cbs_release(closure);
}

/* ---- names ---- */

/* A prefix is dot-separated tokens of letters, digits, '-' and '_'. */
static bool prefix_ok(const char *p)
{
    size_t tok = 0, len = strlen(p);

    if (!len || len > 64)
        return false;
    for (const char *c = p; *c; c++) {
        if (*c == '.') {
            if (!tok)
                return false;
            tok = 0;
        } else if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                   (*c >= '0' && *c <= '9') || *c == '-' || *c == '_') {
            tok++;
        } else {
            return false;
        }
    }
    return tok > 0;
}

static void stream_name(char *out, size_t cap, const char *prefix,
                        const char *suffix)
{
    size_t i = 0;

    for (; prefix[i] && i + 1 < cap; i++) {
        char c = prefix[i];
        out[i] = c == '.' ? '_' : (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
    }
    snprintf(out + i, cap - i, "_%s", suffix);
}

/* ---- connecting (note 1) ---- */

/* Split "h1:p1,h2:p2" into "nats://h1:p1" ... (a URL with a scheme is
 * kept as it is). Returns the count, 0 when the list is malformed. */
static int split_servers(const char *servers, char **urls, int max)
{
    int count = 0;
    const char *p = servers;

    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);

        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (!len || count == max)
            goto bad;
        bool scheme = false;
        for (size_t i = 0; i + 2 < len; i++)
            if (!memcmp(p + i, "://", 3))
                scheme = true;
        urls[count] = malloc(len + 8);
        if (!urls[count])
            goto bad;
        snprintf(urls[count++], len + 8, "%s%.*s", scheme ? "" : "nats://",
                 (int)len, p);
        if (!e)
            break;
        p = e + 1;
        if (!*p)
            goto bad;
    }
    return count;

bad:
    while (count)
        free(urls[--count]);
    return 0;
}

static int connect_nats(struct fxp_nats *n, const char *servers,
                        int64_t deadline)
{
    const struct fxp_bus_opts *o = &n->b->opts;
    char *urls[MAX_SERVERS];
    int count = split_servers(servers, urls, MAX_SERVERS);
    natsStatus s;

    if (!count) {
        snprintf(
            n->b->err, sizeof n->b->err,
            "bad NATS server list '%s' (expected HOST:PORT[,HOST:PORT...])",
            servers);
        return FXP_EINVAL;
    }
    s = natsOptions_Create(&n->nopts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(n->nopts, (const char **)urls, count);
    for (int i = 0; i < count; i++)
        free(urls[i]);
    if (s == NATS_OK && o->client_id && o->client_id[0])
        s = natsOptions_SetName(n->nopts, o->client_id);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(n->nopts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(n->nopts, RECONNECT_WAIT);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(n->nopts, PING_INTERVAL_MS);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(n->nopts, MAX_PINGS_OUT);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(n->nopts, fxp__nats_on_disconnect,
                                          n->cbs);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(n->nopts, fxp__nats_on_closed, n->cbs);
    if (s != NATS_OK)
        return fxp__nats_fail(n, s, "cannot set up the NATS connection");

    for (;;) {
        int64_t left = deadline - nats_Now();
        int64_t t = o->request_timeout_ms > 0 ? o->request_timeout_ms : 5000;

        if (t > left)
            t = left > 0 ? left : 1;
        s = natsOptions_SetTimeout(n->nopts, t);
        if (s == NATS_OK) {
            /* The closed callback will hold a reference from now on. */
            pthread_mutex_lock(&n->cbs->mu);
            n->cbs->refs++;
            pthread_mutex_unlock(&n->cbs->mu);
            s = natsConnection_Connect(&n->nc, n->nopts);
            if (s != NATS_OK) {
                n->nc = NULL;
                cbs_release(n->cbs);
            }
        }
        if (s == NATS_OK)
            return FXP_OK;
        left = deadline - nats_Now();
        if (left <= 0 || fxp__nats_err(s) != FXP_EUNAVAIL) {
            snprintf(n->b->err, sizeof n->b->err,
                     "cannot connect to NATS at %s within %d ms: %s", servers,
                     o->connect_timeout_ms, nats_detail(s));
            return fxp__nats_err(s) == FXP_EUNAVAIL ? FXP_EUNAVAIL
                                                    : fxp__nats_err(s);
        }
        nats_Sleep(left < CONNECT_RETRY_MS ? left : CONNECT_RETRY_MS);
    }
}

/* ---- streams (note 2) ---- */

static int check_stream(struct fxp_nats *n, const char *name, const char *subj)
{
    jsStreamInfo *si = NULL;
    jsErrCode ec = 0;
    natsStatus s = js_GetStreamInfo(&si, n->js, name, NULL, &ec);
    char have[256] = "";
    size_t used = 0;
    bool found = false;

    if (s != NATS_OK) {
        char what[256];
        snprintf(what, sizeof what, "cannot read stream %s", name);
        return fxp__nats_fail(n, s, what);
    }
    for (int i = 0; si->Config && i < si->Config->SubjectsLen; i++) {
        const char *x = si->Config->Subjects[i];
        if (!strcmp(x, subj))
            found = true;
        if (used < sizeof have)
            used += (size_t)snprintf(have + used, sizeof have - used, "%s%s",
                                     i ? ", " : "", x);
    }
    jsStreamInfo_Destroy(si);
    if (found)
        return FXP_OK;
    snprintf(n->b->err, sizeof n->b->err,
             "stream %s exists with subjects [%s], not %s: delete it or "
             "choose another prefix",
             name, have, subj);
    return FXP_EIO;
}

static int ensure_stream(struct fxp_nats *n, fxp_bus_stream st,
                         int64_t deadline)
{
    const struct fxp_bus_opts *o = &n->b->opts;
    const char *name = n->stream[st];
    char subj[FXP_NATS_NAME_MAX + 16];
    const char *subjects[1] = {subj};
    jsStreamConfig cfg;
    int64_t dup = FXP_NATS_DUP_MS;

    snprintf(subj, sizeof subj, "%s.%s.>", n->prefix, fxp_bus_stream_name(st));
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Discard = js_DiscardOld;
    cfg.MaxAge = o->max_age_ms > 0 ? o->max_age_ms * FXP_NS_PER_MS : 0;
    if (o->max_age_ms > 0 && o->max_age_ms < dup)
        dup = o->max_age_ms;
    cfg.Duplicates = dup * FXP_NS_PER_MS;

    for (;;) {
        jsStreamInfo *si = NULL;
        jsErrCode ec = 0;
        natsStatus s = js_AddStream(&si, n->js, &cfg, NULL, &ec);

        jsStreamInfo_Destroy(si);
        if (s == NATS_OK)
            return FXP_OK;
        if (ec == JSStreamNameExistErr)
            return check_stream(n, name, subj);
        if (ec == 0 && fxp__nats_err(s) == FXP_EUNAVAIL &&
            nats_Now() + CONNECT_RETRY_MS < deadline) {
            nats_Sleep(CONNECT_RETRY_MS);
            continue;
        }
        if (ec) {
            snprintf(n->b->err, sizeof n->b->err,
                     "cannot create stream %s on %s: %s (JetStream error %d)",
                     name, subj, nats_detail(s), (int)ec);
            return FXP_EIO;
        }
        snprintf(n->b->err, sizeof n->b->err,
                 "cannot create stream %s at %s: %s (is JetStream enabled?)",
                 name, n->servers, nats_detail(s));
        return fxp__nats_err(s);
    }
}

/* ---- the operations ---- */

static int nats_ping(struct fxp_bus *b, int timeout_ms)
{
    struct fxp_nats *n = b->impl;
    natsStatus s;

    if (!fxp__nats_connected(n)) {
        snprintf(b->err, sizeof b->err, "not connected to NATS at %s",
                 n->servers);
        return FXP_EUNAVAIL;
    }
    s = natsConnection_FlushTimeout(n->nc, timeout_ms > 0 ? timeout_ms : 1);
    if (s != NATS_OK) {
        snprintf(b->err, sizeof b->err,
                 "no answer from NATS at %s within %d ms: %s", n->servers,
                 timeout_ms, nats_detail(s));
        return FXP_EUNAVAIL;
    }
    return FXP_OK;
}

static int nats_pause(struct fxp_bus *b, bool paused)
{
    (void)b;
    (void)paused; /* a pull consumer gets nothing it does not fetch */
    return FXP_OK;
}

static void nats_free(struct fxp_nats *n)
{
    fxp__nats_unsubscribe_keep(n);
    if (n->js) {
        natsMsgList l;
        if (n->published && js_PublishAsyncGetPendingList(&l, n->js) == NATS_OK)
            natsMsgList_Destroy(&l); /* abandoned (bus.h) */
        jsCtx_Destroy(n->js);
    }
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->nopts);
    if (n->cbs)
        cbs_release(n->cbs);
    pthread_mutex_destroy(&n->pend_mu);
    free(n->pend);
    free(n);
}

static void nats_close(void *impl)
{
    nats_free(impl);
}

static const struct fxp_bus_ops nats_ops = {
    .name = "nats",
    .ping = nats_ping,
    .publish = fxp__nats_publish,
    .flush = fxp__nats_flush,
    .subscribe = fxp__nats_subscribe,
    .fetch = fxp__nats_fetch,
    .commit = fxp__nats_commit,
    .commit_through = fxp__nats_commit_through,
    .pause = nats_pause,
    .close = nats_close,
};

static int open_js(struct fxp_nats *n)
{
    const struct fxp_bus_opts *o = &n->b->opts;
    jsOptions jo;
    natsStatus s;

    jsOptions_Init(&jo);
    jo.Wait = o->request_timeout_ms > 0 ? o->request_timeout_ms : 5000;
    jo.PublishAsync.MaxPending =
        o->max_pending ? (int64_t)o->max_pending : 4096;
    jo.PublishAsync.ErrHandler = fxp__nats_on_pub_error;
    jo.PublishAsync.ErrHandlerClosure = n->cbs;
    jo.PublishAsync.StallWait = jo.Wait;
    s = natsConnection_JetStream(&n->js, n->nc, &jo);
    return s == NATS_OK
               ? FXP_OK
               : fxp__nats_fail(n, s, "cannot open a JetStream context");
}

int fxp__bus_open_nats(struct fxp_bus *b, const char *servers, char *errbuf,
                       size_t errlen)
{
    const char *prefix = b->opts.prefix ? b->opts.prefix : "fxpipe";
    struct fxp_nats *n;
    int64_t deadline;
    int rc;

    if (!prefix_ok(prefix)) {
        snprintf(errbuf, errlen,
                 "bad bus prefix '%s' (dot-separated tokens of letters, "
                 "digits, '-' and '_', at most 64 bytes)",
                 prefix);
        return FXP_EINVAL;
    }
    n = calloc(1, sizeof *n);
    if (!n || pthread_mutex_init(&n->pend_mu, NULL)) {
        free(n);
        snprintf(errbuf, errlen, "cannot open NATS bus: out of memory");
        return FXP_ENOMEM;
    }
    n->b = b;
    snprintf(n->servers, sizeof n->servers, "%s", servers);
    snprintf(n->prefix, sizeof n->prefix, "%s", prefix);
    stream_name(n->stream[FXP_BUS_TICKS], sizeof n->stream[0], prefix, "TICKS");
    stream_name(n->stream[FXP_BUS_BARS], sizeof n->stream[0], prefix, "BARS");
    deadline =
        nats_Now() +
        (b->opts.connect_timeout_ms > 0 ? b->opts.connect_timeout_ms : 0);
    n->cbs = cbs_new();
    rc = n->cbs ? FXP_OK : FXP_ENOMEM;
    if (rc != FXP_OK)
        snprintf(b->err, sizeof b->err, "out of memory");
    if (rc == FXP_OK)
        rc = connect_nats(n, servers, deadline);
    if (rc == FXP_OK)
        rc = open_js(n);
    if (rc == FXP_OK)
        rc = ensure_stream(n, FXP_BUS_TICKS, deadline);
    if (rc == FXP_OK)
        rc = ensure_stream(n, FXP_BUS_BARS, deadline);
    if (rc != FXP_OK) {
        snprintf(errbuf, errlen, "%s", b->err);
        b->err[0] = '\0';
        nats_free(n);
        return rc;
    }
    b->ops = &nats_ops;
    b->impl = n;
    return FXP_OK;
}
