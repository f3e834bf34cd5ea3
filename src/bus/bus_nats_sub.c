/*
 * bus_nats_sub.c - consuming from the NATS JetStream bus (bus.h): a
 * durable pull consumer per group, fetch, commit and commit_through.
 *
 * Design notes
 *
 *  1. The consumer is durable, named by opts.group, filtered on
 *     "<prefix>.<stream>.>", delivers everything the stream holds
 *     (DeliverAll), acks explicitly, AckWait 30 s, MaxAckPending 65536,
 *     no delivery limit. It is created with js_AddConsumer when absent and
 *     then bound (jsSubOptions Stream + Consumer), so the library never
 *     deletes it: closing a handle leaves the group's position on the
 *     server. An existing consumer of that name is checked (pull, same
 *     filter, explicit acks) and refused with FXP_EIO when it differs.
 *     Processes using one group share the durable and so split the work:
 *     the server hands each message to one fetch at a time.
 *  2. Explicit acks, one per message, rather than AckAll: with two
 *     handles on one durable an AckAll from one would also acknowledge the
 *     messages the other holds and has not stored yet. Commit sends the
 *     acks in order and waits for the server's answer to the last one
 *     (natsMsg_AckSync); the server handles one connection's acks in the
 *     order they come, so that answer confirms all of them.
 *  3. Every message handed to the caller stays in the pending list with
 *     its fetch ordinal until it is committed; the list has its own mutex
 *     because commit_through may run on another thread than fetch. A
 *     message enters the list before fn sees it, so a commit_through for
 *     it can never arrive first. Acks go out after the entries have been
 *     taken off the list, outside the lock.
 *  4. When fn returns non-zero, the message it was given still counts (it
 *     was handed out: *n and the ordinals include it) but is given back
 *     like the rest of the batch with a negative ack, so the server
 *     redelivers them at once: a caller that could not take it loses
 *     nothing, one that did sees it twice. Closing a handle gives back its
 *     uncommitted messages the same way; only a crash leaves them to the
 *     30 s AckWait.
 *  5. A fetch that times out with nothing is FXP_OK, *n = 0, unless the
 *     connection is down: then FXP_EUNAVAIL.
 *  6. A commit while the connection is down fails at once and keeps the
 *     messages pending, so a commit after the reconnect can still
 *     acknowledge them (the server keeps the group's state across its
 *     restarts). Once acks have been sent, a failure drops them: the
 *     server redelivers whatever it did not get.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus_nats_int.h"
#include "fxpipe/err.h"

#define HDR_MSG_ID      "Nats-Msg-Id"
#define HDR_CORRELATION "Correlation-Id"

/* A durable name: printable ASCII without '.', '*', '>' or spaces. */
static bool group_ok(const char *g)
{
    size_t len = strlen(g);

    if (!len || len > 64)
        return false;
    for (; *g; g++) {
        unsigned char c = (unsigned char)*g;
        if (c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>')
            return false;
    }
    return true;
}

/* Note 1: is the existing consumer ci one this backend can use? */
static int check_consumer(struct fxp_nats *n, const jsConsumerInfo *ci,
                          const char *filter)
{
    const jsConsumerConfig *c = ci->Config;
    const char *why = NULL;

    if (!c)
        why = "no configuration";
    else if (c->DeliverSubject && c->DeliverSubject[0])
        why = "it is a push consumer";
    else if (!c->FilterSubject || strcmp(c->FilterSubject, filter))
        why = "its filter subject differs";
    else if (c->AckPolicy != js_AckExplicit)
        why = "it does not use explicit acks";
    if (!why)
        return FXP_OK;
    snprintf(n->b->err, sizeof n->b->err,
             "consumer '%s' on stream %s (filter %s) cannot be used: %s; "
             "delete it or choose another group",
             n->b->opts.group, ci->Stream ? ci->Stream : "?",
             c && c->FilterSubject ? c->FilterSubject : "none", why);
    return FXP_EIO;
}

static int ensure_consumer(struct fxp_nats *n, const char *stream,
                           const char *filter)
{
    const char *group = n->b->opts.group;
    jsConsumerInfo *ci = NULL;
    jsConsumerConfig cc;
    jsErrCode ec = 0;
    natsStatus s;
    char what[256];
    int rc;

    s = js_GetConsumerInfo(&ci, n->js, stream, group, NULL, &ec);
    if (s == NATS_NOT_FOUND || ec == JSConsumerNotFoundErr) {
        jsConsumerConfig_Init(&cc);
        cc.Durable = group;
        cc.Description = "fxpipe consumer group";
        cc.DeliverPolicy = js_DeliverAll;
        cc.AckPolicy = js_AckExplicit;
        cc.AckWait = FXP_NATS_ACK_WAIT * FXP_NS_PER_MS;
        cc.MaxDeliver = -1;
        cc.MaxAckPending = FXP_NATS_MAX_ACKP;
        cc.FilterSubject = filter;
        cc.ReplayPolicy = js_ReplayInstant;
        ec = 0;
        s = js_AddConsumer(&ci, n->js, stream, &cc, NULL, &ec);
        if (s != NATS_OK && ec) { /* another process made it first? */
            jsConsumerInfo_Destroy(ci);
            ci = NULL;
            ec = 0;
            s = js_GetConsumerInfo(&ci, n->js, stream, group, NULL, &ec);
        }
    }
    if (s != NATS_OK) {
        snprintf(what, sizeof what,
                 "cannot create or read consumer '%s' on stream %s", group,
                 stream);
        rc = fxp__nats_fail(n, s, what);
        return rc == FXP_EINVAL ? FXP_EIO : rc;
    }
    rc = check_consumer(n, ci, filter);
    jsConsumerInfo_Destroy(ci);
    return rc;
}

int fxp__nats_subscribe(struct fxp_bus *b, fxp_bus_stream st)
{
    struct fxp_nats *n = b->impl;
    const char *stream = n->stream[st];
    char filter[FXP_NATS_NAME_MAX + 16], what[256];
    jsSubOptions so;
    jsErrCode ec = 0;
    natsStatus s;
    int rc;

    if (n->sub) {
        snprintf(b->err, sizeof b->err,
                 "already subscribed to %s: one subscription per handle",
                 fxp_bus_stream_name(n->sub_st));
        return FXP_EINVAL;
    }
    if (!group_ok(b->opts.group)) {
        snprintf(b->err, sizeof b->err,
                 "bad consumer group '%s' (printable ASCII without spaces, "
                 "'.', '*' or '>', at most 64 bytes)",
                 b->opts.group);
        return FXP_EINVAL;
    }
    snprintf(filter, sizeof filter, "%s.%s.>", n->prefix,
             fxp_bus_stream_name(st));
    rc = ensure_consumer(n, stream, filter);
    if (rc != FXP_OK)
        return rc;

    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Consumer = b->opts.group; /* bind: never created nor deleted here */
    s = js_PullSubscribe(&n->sub, n->js, filter, b->opts.group, NULL, &so, &ec);
    if (s != NATS_OK) {
        n->sub = NULL;
        snprintf(what, sizeof what, "cannot bind to consumer '%s' on %s",
                 b->opts.group, stream);
        rc = fxp__nats_fail(n, s, what);
        return rc == FXP_EINVAL ? FXP_EIO : rc;
    }
    /* A fetch asks for at most what it can hold: no library-side limit. */
    natsSubscription_SetPendingLimits(n->sub, -1, -1);
    n->sub_st = st;
    n->sub_prefix_len =
        (size_t)snprintf(n->sub_prefix, sizeof n->sub_prefix, "%s.%s.",
                         n->prefix, fxp_bus_stream_name(st));
    return FXP_OK;
}

/* ---- the pending list (note 3); callers hold pend_mu ---- */

static int pend_push(struct fxp_nats *n, natsMsg *m, uint64_t ord)
{
    if (n->pend_len == n->pend_cap && n->pend_head) {
        memmove(n->pend, n->pend + n->pend_head,
                (n->pend_len - n->pend_head) * sizeof *n->pend);
        n->pend_len -= n->pend_head;
        n->pend_head = 0;
    }
    if (n->pend_len == n->pend_cap) {
        size_t cap = n->pend_cap ? 2 * n->pend_cap : 256;
        struct fxp_nats_pend *p = realloc(n->pend, cap * sizeof *p);
        if (!p)
            return FXP_ENOMEM;
        n->pend = p;
        n->pend_cap = cap;
    }
    n->pend[n->pend_len].m = m;
    n->pend[n->pend_len++].ord = ord;
    return FXP_OK;
}

/* Take the entries with ord <= through off the front into a new array. */
static natsMsg **pend_take(struct fxp_nats *n, uint64_t through, size_t *k)
{
    size_t i = n->pend_head;
    natsMsg **out;

    while (i < n->pend_len && n->pend[i].ord <= through)
        i++;
    *k = i - n->pend_head;
    if (!*k)
        return NULL;
    out = malloc(*k * sizeof *out);
    if (!out)
        return NULL;
    for (size_t j = 0; j < *k; j++)
        out[j] = n->pend[n->pend_head + j].m;
    n->pend_head = i;
    if (n->pend_head == n->pend_len)
        n->pend_head = n->pend_len = 0;
    return out;
}

/* ---- fetch ---- */

static void fill_msg(const struct fxp_nats *n, natsMsg *m,
                     struct fxp_bus_msg *bm)
{
    const char *subj = natsMsg_GetSubject(m);
    jsMsgMetaData *meta = NULL;

    memset(bm, 0, sizeof *bm);
    bm->data = natsMsg_GetData(m);
    bm->len = (size_t)natsMsg_GetDataLength(m);
    if (!bm->data)
        bm->data = "";
    bm->key = subj ? subj : "";
    if (subj && !strncmp(subj, n->sub_prefix, n->sub_prefix_len))
        bm->key = subj + n->sub_prefix_len;
    if (natsMsgHeader_Get(m, HDR_MSG_ID, &bm->msg_id) != NATS_OK || !bm->msg_id)
        bm->msg_id = "";
    if (natsMsgHeader_Get(m, HDR_CORRELATION, &bm->correlation_id) != NATS_OK ||
        !bm->correlation_id)
        bm->correlation_id = "";
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        bm->pos = meta->Sequence.Stream;
        bm->redeliveries =
            meta->NumDelivered > 0 ? (uint32_t)(meta->NumDelivered - 1) : 0;
        jsMsgMetaData_Destroy(meta);
    }
}

/* Note 4: give a message back for immediate redelivery. */
static void give_back(natsMsg *m)
{
    natsMsg_Nak(m, NULL);
    natsMsg_Destroy(m);
}

int fxp__nats_fetch(struct fxp_bus *b, size_t max, int timeout_ms,
                    fxp_bus_msg_fn fn, void *ud, size_t *n_out)
{
    struct fxp_nats *n = b->impl;
    natsMsgList list = {0};
    jsErrCode ec = 0;
    natsStatus s;
    bool stop = false;
    int batch, rc = FXP_OK;

    *n_out = 0;
    if (!n->sub) {
        snprintf(b->err, sizeof b->err, "fetch before subscribe");
        return FXP_EINVAL;
    }
    if (!max)
        return FXP_OK;
    batch = max > FXP_NATS_MAX_ACKP ? FXP_NATS_MAX_ACKP : (int)max;
    s = natsSubscription_Fetch(&list, n->sub, batch,
                               timeout_ms > 0 ? timeout_ms : 1, &ec);
    if (s == NATS_TIMEOUT) { /* note 5 */
        if (fxp__nats_connected(n))
            return FXP_OK;
        snprintf(b->err, sizeof b->err,
                 "fetch from %s: not connected to "
                 "NATS at %s",
                 n->stream[n->sub_st], n->servers);
        return FXP_EUNAVAIL;
    }
    if (s != NATS_OK) {
        char what[256];
        snprintf(what, sizeof what, "fetch from %s as '%s'",
                 n->stream[n->sub_st], b->opts.group);
        rc = fxp__nats_fail(n, s, what);
        return rc == FXP_EINVAL ? FXP_EIO : rc;
    }

    for (int i = 0; i < list.Count; i++) {
        natsMsg *m = list.Msgs[i];
        struct fxp_bus_msg bm;
        uint64_t ord;
        int r;

        list.Msgs[i] = NULL;
        if (stop || rc != FXP_OK) {
            give_back(m);
            continue;
        }
        fill_msg(n, m, &bm);
        ord = ++n->next_ord;
        pthread_mutex_lock(&n->pend_mu);
        r = pend_push(n, m, ord);
        pthread_mutex_unlock(&n->pend_mu);
        if (r != FXP_OK) {
            snprintf(b->err, sizeof b->err, "fetch: out of memory");
            n->next_ord--;
            give_back(m);
            rc = r;
            continue;
        }
        r = fn(ud, &bm);
        ++*n_out;
        if (!r)
            continue;
        stop = true;
        pthread_mutex_lock(&n->pend_mu);
        bool mine =
            n->pend_len > n->pend_head && n->pend[n->pend_len - 1].ord == ord;
        if (mine && --n->pend_len == n->pend_head)
            n->pend_head = n->pend_len = 0;
        pthread_mutex_unlock(&n->pend_mu);
        if (mine)
            give_back(m);
    }
    natsMsgList_Destroy(&list);
    return rc;
}

/* ---- commit (note 2) ---- */

static int ack_through(struct fxp_nats *n, uint64_t through)
{
    struct fxp_bus *b = n->b;
    natsMsg **v;
    natsStatus s = NATS_OK, s1;
    jsOptions jo;
    jsErrCode ec = 0;
    size_t k = 0;

    if (!n->sub)
        return FXP_OK;
    if (!fxp__nats_connected(n)) { /* note 6 */
        snprintf(b->err, sizeof b->err, "commit: not connected to NATS at %s",
                 n->servers);
        return FXP_EUNAVAIL;
    }
    pthread_mutex_lock(&n->pend_mu);
    v = pend_take(n, through, &k);
    pthread_mutex_unlock(&n->pend_mu);
    if (!k)
        return FXP_OK;
    if (!v) {
        snprintf(b->err, sizeof b->err, "commit: out of memory");
        return FXP_ENOMEM; /* still pending: a later commit takes them */
    }
    for (size_t i = 0; i + 1 < k; i++) {
        s1 = natsMsg_Ack(v[i], NULL);
        if (s == NATS_OK)
            s = s1;
    }
    jsOptions_Init(&jo);
    jo.Wait =
        b->opts.request_timeout_ms > 0 ? b->opts.request_timeout_ms : 5000;
    s1 = natsMsg_AckSync(v[k - 1], &jo, &ec);
    if (s == NATS_OK)
        s = s1;
    for (size_t i = 0; i < k; i++)
        natsMsg_Destroy(v[i]);
    free(v);
    if (s == NATS_OK)
        return FXP_OK;
    char what[128];
    snprintf(what, sizeof what,
             "commit of %zu messages (they will be redelivered)", k);
    int rc = fxp__nats_fail(n, s, what);
    return rc == FXP_EINVAL ? FXP_EIO : rc;
}

int fxp__nats_commit(struct fxp_bus *b)
{
    return ack_through(b->impl, UINT64_MAX);
}

int fxp__nats_commit_through(struct fxp_bus *b, uint64_t ordinal)
{
    return ack_through(b->impl, ordinal);
}

void fxp__nats_unsubscribe_keep(struct fxp_nats *n)
{
    if (!n->sub)
        return;
    pthread_mutex_lock(&n->pend_mu);
    for (size_t i = n->pend_head; i < n->pend_len; i++)
        give_back(n->pend[i].m);
    n->pend_head = n->pend_len = 0;
    pthread_mutex_unlock(&n->pend_mu);
    if (fxp__nats_connected(n))
        natsConnection_FlushTimeout(n->nc, 2000);
    natsSubscription_Destroy(n->sub); /* not Unsubscribe: keep the durable */
    n->sub = NULL;
}
