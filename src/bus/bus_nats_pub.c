/*
 * bus_nats_pub.c - publishing on the NATS JetStream bus (bus.h): one
 * asynchronous JetStream publish per message and a flush that reports
 * whether every publish since the last one was stored.
 *
 * Design notes
 *
 *  1. A message goes to "<prefix>.<ticks|bars>.<key>" with the headers
 *     Nats-Msg-Id (the stream drops a repeat within 2 minutes),
 *     Content-Type and, when given, Correlation-Id (docs/wire-format.md).
 *     A key character that cannot be part of one subject token (space,
 *     control, '.', '*', '>', non-ASCII) is published as '_'.
 *  2. js_PublishMsgAsync returns before the server answers; at most
 *     max_pending publishes are unacknowledged, the next one waits up to
 *     request_timeout_ms for room and then fails with FXP_EUNAVAIL.
 *  3. Failures arrive on the library's threads: a negative or missing
 *     acknowledgement (the PublishAsync error handler) and a dropped
 *     connection (the disconnected callback, since what was in flight then
 *     may never be acknowledged). They, and a publish refused here, are
 *     counted in struct fxp_nats_cbs until the next flush, which then
 *     fails: the caller publishes everything since its last successful
 *     flush again, and the message ids make the repeats harmless.
 *  4. While the connection is down publish fails at once with FXP_EUNAVAIL
 *     rather than filling the library's reconnect buffer: the caller
 *     learns of the outage when it happens and can wait (fxp_bus_ping).
 *  5. A failed flush abandons the publishes still in flight (their late
 *     acknowledgements are ignored), so a lost connection can never leave
 *     the max_pending window full of publishes nobody will acknowledge.
 *  6. Flush waits in 50 ms slices and looks at the connection between
 *     them: a drop fails it at once instead of after the whole timeout.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus/bus_nats_int.h"
#include "fxpipe/err.h"

#define HDR_MSG_ID      "Nats-Msg-Id"
#define HDR_CONTENT     "Content-Type"
#define HDR_CORRELATION "Correlation-Id"
#define FLUSH_SLICE_MS  50

void fxp__nats_pub_failed(struct fxp_nats_cbs *c, int rc, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&c->mu);
    if (!c->failed++) {
        c->rc = rc;
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof c->err, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&c->mu);
}

void fxp__nats_on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    const char *subj = pae->Msg ? natsMsg_GetSubject(pae->Msg) : NULL;
    const char *id = NULL;
    int rc = pae->ErrCode ? FXP_EIO : fxp__nats_err(pae->Err);

    (void)js;
    if (pae->Msg)
        natsMsgHeader_Get(pae->Msg, HDR_MSG_ID, &id);
    fxp__nats_pub_failed(closure, rc == FXP_OK ? FXP_EIO : rc,
                         "publish to %s (id %s) failed: %s (JetStream error "
                         "%d)",
                         subj ? subj : "?", id ? id : "-",
                         pae->ErrText ? pae->ErrText : "?", (int)pae->ErrCode);
}

void fxp__nats_on_disconnect(natsConnection *nc, void *closure)
{
    struct fxp_nats_cbs *c = closure;

    (void)nc;
    pthread_mutex_lock(&c->mu);
    c->lost = true;
    pthread_mutex_unlock(&c->mu);
}

/* Note 1: the key as one subject token. */
static void put_key(char *out, size_t cap, const char *key)
{
    size_t i = 0;

    for (; key[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)key[i];
        bool bad = c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>';
        out[i] = bad ? '_' : (char)c;
    }
    out[i] = '\0';
}

/* Note 5: forget the publishes in flight. */
static void abandon_pending(struct fxp_nats *n)
{
    natsMsgList l;

    if (n->published && js_PublishAsyncGetPendingList(&l, n->js) == NATS_OK)
        natsMsgList_Destroy(&l);
}

int fxp__nats_publish(struct fxp_bus *b, fxp_bus_stream st, const char *key,
                      const void *payload, size_t len, const char *msg_id,
                      const char *correlation_id)
{
    struct fxp_nats *n = b->impl;
    char subj[FXP_NATS_SUBJ_MAX];
    size_t pl;
    natsMsg *m = NULL;
    natsStatus s;

    if (!key || !key[0] || len > INT_MAX || (len && !payload)) {
        snprintf(b->err, sizeof b->err, "publish to %s: %s",
                 fxp_bus_stream_name(st),
                 !key || !key[0] ? "no key" : "bad payload");
        return FXP_EINVAL;
    }
    pl = (size_t)snprintf(subj, sizeof subj, "%s.%s.", n->prefix,
                          fxp_bus_stream_name(st));
    if (strlen(key) >= sizeof subj - pl) {
        snprintf(b->err, sizeof b->err,
                 "publish to %s: key '%.40s...' too long",
                 fxp_bus_stream_name(st), key);
        return FXP_EINVAL;
    }
    put_key(subj + pl, sizeof subj - pl, key);

    if (!fxp__nats_connected(n)) { /* note 4 */
        snprintf(b->err, sizeof b->err,
                 "publish to %s: not connected to NATS at %s", subj,
                 n->servers);
        fxp__nats_pub_failed(n->cbs, FXP_EUNAVAIL, "%s", b->err);
        return FXP_EUNAVAIL;
    }
    s = natsMsg_Create(&m, subj, NULL, payload, (int)len);
    if (s == NATS_OK && msg_id && msg_id[0])
        s = natsMsgHeader_Set(m, HDR_MSG_ID, msg_id);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, HDR_CONTENT, FXP_BUS_CONTENT_TYPE);
    if (s == NATS_OK && correlation_id && correlation_id[0])
        s = natsMsgHeader_Set(m, HDR_CORRELATION, correlation_id);
    if (s == NATS_OK)
        s = js_PublishMsgAsync(n->js, &m, NULL);
    natsMsg_Destroy(m); /* NULL when the library took it */
    if (s == NATS_OK) {
        n->published = true;
        return FXP_OK;
    }

    char what[FXP_NATS_SUBJ_MAX + 64];
    int rc;
    snprintf(what, sizeof what, "publish to %s", subj);
    rc = fxp__nats_fail(n, s, what);
    fxp__nats_pub_failed(n->cbs, rc, "%s", b->err);
    if (s == NATS_TIMEOUT) /* note 2: no room, nothing acknowledged */
        abandon_pending(n);
    return rc;
}

int fxp__nats_flush(struct fxp_bus *b, int timeout_ms)
{
    struct fxp_nats *n = b->impl;
    struct fxp_nats_cbs *c = n->cbs;
    natsStatus s = NATS_CONNECTION_DISCONNECTED;
    jsPubOptions po;
    uint64_t failed;
    int64_t deadline;
    bool lost;
    int rc;

    /* Note 6: wait in slices, giving up as soon as the connection drops. */
    deadline = nats_Now() + (timeout_ms > 0 ? timeout_ms : 1);
    for (;;) {
        int64_t left = deadline - nats_Now();

        pthread_mutex_lock(&c->mu);
        lost = c->lost;
        pthread_mutex_unlock(&c->mu);
        if (lost || !fxp__nats_connected(n)) {
            s = NATS_CONNECTION_DISCONNECTED;
            break;
        }
        jsPubOptions_Init(&po);
        po.MaxWait =
            left < FLUSH_SLICE_MS ? (left > 0 ? left : 1) : FLUSH_SLICE_MS;
        s = js_PublishAsyncComplete(n->js, &po);
        if (s != NATS_TIMEOUT || left <= FLUSH_SLICE_MS)
            break;
    }
    if (s != NATS_OK || lost)
        abandon_pending(n);

    pthread_mutex_lock(&c->mu);
    failed = c->failed;
    lost = lost || c->lost;
    rc = c->rc;
    if (failed == 1)
        snprintf(b->err, sizeof b->err, "%s", c->err);
    else if (failed)
        snprintf(b->err, sizeof b->err, "%s (and %llu more failures)", c->err,
                 (unsigned long long)(failed - 1));
    c->failed = 0;
    c->lost = false;
    c->rc = FXP_OK;
    c->err[0] = '\0';
    pthread_mutex_unlock(&c->mu);

    if (failed)
        return rc != FXP_OK ? rc : FXP_EIO;
    if (lost) {
        snprintf(b->err, sizeof b->err,
                 "the connection to NATS at %s was lost since the last "
                 "flush: publish again",
                 n->servers);
        return FXP_EUNAVAIL;
    }
    if (s == NATS_TIMEOUT) {
        bool up = fxp__nats_connected(n);
        snprintf(b->err, sizeof b->err,
                 "publishes not acknowledged within %d ms%s", timeout_ms,
                 up ? "" : " (not connected to NATS)");
        return up ? FXP_ETIMEDOUT : FXP_EUNAVAIL;
    }
    if (s == NATS_CONNECTION_DISCONNECTED) {
        snprintf(b->err, sizeof b->err, "flush: not connected to NATS at %s",
                 n->servers);
        return FXP_EUNAVAIL;
    }
    if (s != NATS_OK)
        return fxp__nats_fail(n, s, "flush");
    return FXP_OK;
}
