/*
 * bus_kafka_consume.c - the Kafka consumer group member behind
 * fxp_bus_subscribe/fetch/commit/commit_through/pause (bus.h).
 *
 * Design notes
 *
 *  1. A consumer of its own (group.id = opts.group, manual commits only:
 *     enable.auto.commit and enable.auto.offset.store off, earliest
 *     offset when the group has none). The assignment strategy is pinned
 *     to the eager "range,roundrobin"; the rebalance callback also
 *     handles the cooperative protocol should it ever be configured. A
 *     member that stops heartbeating loses its partitions after 6 s
 *     (session.timeout.ms, the brokers' default minimum; the mock cluster
 *     also makes a new member wait about that long after one left).
 *     fetch.wait.max.ms is 50: a broker answers a fetch as soon as data
 *     arrives anyway, but the mock cluster always holds it that long.
 *  2. Every message handed to fn is appended to the pending list
 *     (partition, offset, fetch ordinal). commit_through(o) commits, per
 *     partition, the highest offset + 1 among pending entries with
 *     ordinal <= o, and drops those entries once the broker accepted
 *     them; commit is commit_through(everything). The list is guarded by
 *     a mutex, the commit itself runs outside it, so a second thread may
 *     commit while the first fetches.
 *  3. On revoke (or lost partitions) nothing new is committed: the
 *     pending entries of those partitions are dropped, so no later
 *     commit can move the offsets of partitions another member now owns.
 *     Their messages go to the new owner again (de-duplicated
 *     downstream).
 *  4. A message fn refuses (non-zero) is not handed out: it gets no
 *     ordinal, is not counted in *n and is kept to be handed out first
 *     by the next fetch (unless its partition is revoked meanwhile: then
 *     the new owner reads it).
 *  5. Pause pauses the current assignment and every partition assigned
 *     later, until resumed; positions are kept. Keep calling fetch while
 *     paused: it serves the group's heartbeats and rebalances.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus_kafka_int.h"
#include "fxpipe/err.h"

#define HDR_MSG_ID  "fxpipe-msg-id"
#define HDR_CORR_ID "correlation-id"

/* ---- pending list (note 2), all under k->mu ---- */

static int pend_add(struct fxp_kafka *k, int32_t part, int64_t off)
{
    if (k->pend_n == k->pend_cap) {
        if (k->pend_head) {
            memmove(k->pend, k->pend + k->pend_head,
                    (k->pend_n - k->pend_head) * sizeof *k->pend);
            k->pend_n -= k->pend_head;
            k->pend_head = 0;
        }
        if (k->pend_n == k->pend_cap) {
            size_t cap = k->pend_cap ? 2 * k->pend_cap : 256;
            void *p = realloc(k->pend, cap * sizeof *k->pend);
            if (!p)
                return FXP_ENOMEM;
            k->pend = p;
            k->pend_cap = cap;
        }
    }
    k->pend[k->pend_n].partition = part;
    k->pend[k->pend_n].offset = off;
    k->pend[k->pend_n++].ordinal = ++k->ordinal;
    return FXP_OK;
}

/* Note 3: forget the pending entries of the partitions in parts (all of
 * them when parts is NULL). */
static void pend_drop(struct fxp_kafka *k,
                      const rd_kafka_topic_partition_list_t *parts)
{
    size_t w = k->pend_head;

    for (size_t i = k->pend_head; i < k->pend_n; i++) {
        bool gone = !parts;
        for (int j = 0; parts && j < parts->cnt && !gone; j++)
            gone = parts->elems[j].partition == k->pend[i].partition &&
                   !strcmp(parts->elems[j].topic, k->topic[k->stream]);
        if (!gone)
            k->pend[w++] = k->pend[i];
    }
    k->pend_n = w;
}

/* ---- held messages ---- */

static void held_free(struct fxp_kafka *k)
{
    for (size_t i = 0; i < k->n_held; i++) {
        rd_kafka_message_destroy(k->held[i].m);
        free(k->held[i].strs);
    }
    k->n_held = 0;
}

static void drop_stash(struct fxp_kafka *k,
                       const rd_kafka_topic_partition_list_t *parts)
{
    if (!k->stash)
        return;
    if (parts && !rd_kafka_topic_partition_list_find(parts, k->topic[k->stream],
                                                     k->stash->partition))
        return;
    rd_kafka_message_destroy(k->stash);
    k->stash = NULL;
}

/* ---- the group ---- */

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *op)
{
    struct fxp_kafka *k = op;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *e = NULL;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (k->paused)
            rd_kafka_pause_partitions(rk, parts);
    } else {
        bool all = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS;
        pthread_mutex_lock(&k->mu);
        pend_drop(k, all ? NULL : parts);
        pthread_mutex_unlock(&k->mu);
        drop_stash(k, all ? NULL : parts);
        if (coop && !all)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e)
        rd_kafka_error_destroy(e);
}

int fxp__kafka_subscribe(struct fxp_bus *b, fxp_bus_stream st)
{
    struct fxp_kafka *k = b->impl;
    rd_kafka_topic_partition_list_t *tl;
    rd_kafka_conf_t *c;
    rd_kafka_resp_err_t err;
    char why[512];

    if (k->cons || (unsigned)st > FXP_BUS_BARS) {
        fxp__kafka_err(k, "kafka subscribe: %s",
                       k->cons ? "already subscribed" : "bad stream");
        return FXP_EINVAL;
    }
    c = fxp__kafka_conf(k, why, sizeof why);
    if (!c || fxp__kafka_set(c, "group.id", b->opts.group, why, sizeof why) ||
        fxp__kafka_set(c, "enable.auto.commit", "false", why, sizeof why) ||
        fxp__kafka_set(c, "enable.auto.offset.store", "false", why,
                       sizeof why) ||
        fxp__kafka_set(c, "auto.offset.reset", "earliest", why, sizeof why) ||
        fxp__kafka_set(c, "partition.assignment.strategy", "range,roundrobin",
                       why, sizeof why) ||
        fxp__kafka_set(c, "session.timeout.ms", "6000", why, sizeof why) ||
        fxp__kafka_set(c, "heartbeat.interval.ms", "1000", why, sizeof why) ||
        fxp__kafka_set(c, "fetch.wait.max.ms", "50", why, sizeof why) ||
        fxp__kafka_set(c, "allow.auto.create.topics", "false", why,
                       sizeof why)) {
        if (c)
            rd_kafka_conf_destroy(c);
        fxp__kafka_err(k, "%s", why);
        return FXP_EINVAL;
    }
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
    k->cons = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof why);
    if (!k->cons) {
        rd_kafka_conf_destroy(c);
        fxp__kafka_err(k, "kafka: cannot create a consumer: %s", why);
        return FXP_EIO;
    }
    rd_kafka_poll_set_consumer(k->cons);
    k->stream = (int)st;
    tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, k->topic[st], RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(k->cons, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (err) {
        fxp__kafka_err(k, "kafka: cannot subscribe to %s: %s", k->topic[st],
                       rd_kafka_err2str(err));
        fxp__kafka_consumer_close(k);
        return fxp__kafka_classify(err);
    }
    return FXP_OK;
}

void fxp__kafka_consumer_close(struct fxp_kafka *k)
{
    if (!k->cons)
        return;
    held_free(k);
    drop_stash(k, NULL);
    rd_kafka_consumer_close(k->cons);
    held_free(k);
    drop_stash(k, NULL);
    rd_kafka_destroy(k->cons);
    k->cons = NULL;
    free(k->held);
    k->held = NULL;
    k->cap_held = 0;
    pthread_mutex_lock(&k->mu);
    free(k->pend);
    k->pend = NULL;
    k->pend_head = k->pend_n = k->pend_cap = 0;
    pthread_mutex_unlock(&k->mu);
}

/* ---- fetch ---- */

static void header(const rd_kafka_message_t *m, const char *name,
                   const void **v, size_t *n)
{
    rd_kafka_headers_t *h;

    *v = NULL;
    *n = 0;
    if (rd_kafka_message_headers(m, &h) ||
        rd_kafka_header_get_last(h, name, v, n) || !*v)
        *v = NULL, *n = 0;
}

/* Fill msg from m with NUL-terminated copies of key and ids in *strs. */
static int fill(const rd_kafka_message_t *m, struct fxp_bus_msg *msg,
                char **strs)
{
    const void *id, *corr;
    size_t nid, ncorr;
    char *p;

    header(m, HDR_MSG_ID, &id, &nid);
    header(m, HDR_CORR_ID, &corr, &ncorr);
    p = malloc(m->key_len + nid + ncorr + 3);
    if (!p)
        return FXP_ENOMEM;
    *strs = p;
    msg->key = p;
    if (m->key_len)
        memcpy(p, m->key, m->key_len);
    p += m->key_len;
    *p++ = '\0';
    msg->msg_id = p;
    if (nid)
        memcpy(p, id, nid);
    p += nid;
    *p++ = '\0';
    msg->correlation_id = p;
    if (ncorr)
        memcpy(p, corr, ncorr);
    p[ncorr] = '\0';
    msg->data = m->payload ? m->payload : "";
    msg->len = m->len;
    msg->pos = ((uint64_t)m->partition << 40) | (uint64_t)m->offset;
    msg->redeliveries = 0;
    return FXP_OK;
}

static int hold(struct fxp_kafka *k, rd_kafka_message_t *m, char *strs)
{
    if (k->n_held == k->cap_held) {
        size_t cap = k->cap_held ? 2 * k->cap_held : 64;
        void *p = realloc(k->held, cap * sizeof *k->held);
        if (!p)
            return FXP_ENOMEM;
        k->held = p;
        k->cap_held = cap;
    }
    k->held[k->n_held].m = m;
    k->held[k->n_held++].strs = strs;
    return FXP_OK;
}

/* A consumer error: FXP_OK when it is only worth noting. */
static int consumer_error(struct fxp_kafka *k, const rd_kafka_message_t *m)
{
    char why[256];

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return FXP_OK;
    fxp__kafka_err(k, "kafka consumer of %s: %s", k->topic[k->stream],
                   rd_kafka_message_errstr(m));
    if (rd_kafka_fatal_error(k->cons, why, sizeof why)) {
        fxp__kafka_err(k, "kafka consumer failed: %s", why);
        return FXP_EIO;
    }
    switch (m->err) {
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        return FXP_EUNAVAIL;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        return FXP_EIO;
    default:
        return FXP_OK;
    }
}

int fxp__kafka_fetch(struct fxp_bus *b, size_t max, int timeout_ms,
                     fxp_bus_msg_fn fn, void *ud, size_t *n)
{
    struct fxp_kafka *k = b->impl;
    int64_t deadline = fxp__kafka_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int rc = FXP_OK;

    *n = 0;
    if (!k->cons) {
        fxp__kafka_err(k, "kafka fetch: not subscribed");
        return FXP_EINVAL;
    }
    held_free(k);
    k->cons_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    while (*n < max) {
        struct fxp_bus_msg msg;
        rd_kafka_message_t *m;
        char *strs;

        if (k->stash && !k->paused) {
            m = k->stash;
            k->stash = NULL;
        } else {
            int64_t left = *n ? 0 : deadline - fxp__kafka_now_ms();
            m = rd_kafka_consumer_poll(k->cons, left > 0 ? (int)left : 0);
            if (!m) {
                if (*n || left <= 0)
                    break;
                continue;
            }
        }
        if (m->err) {
            int e = consumer_error(k, m);
            rd_kafka_message_destroy(m);
            if (e != FXP_OK) {
                rc = *n ? FXP_OK : e;
                break;
            }
            continue;
        }
        rc = fill(m, &msg, &strs);
        if (rc == FXP_OK && (rc = hold(k, m, strs)) != FXP_OK)
            free(strs);
        if (rc != FXP_OK) {
            k->stash = m;
            fxp__kafka_err(k, "kafka fetch: out of memory");
            break;
        }
        if (fn(ud, &msg)) {
            /* Note 4: refused, handed out first next time. */
            k->n_held--;
            free(strs);
            k->stash = m;
            break;
        }
        pthread_mutex_lock(&k->mu);
        rc = pend_add(k, m->partition, m->offset);
        pthread_mutex_unlock(&k->mu);
        (*n)++;
        if (rc != FXP_OK) {
            fxp__kafka_err(k, "kafka fetch: out of memory");
            break;
        }
    }
    if (rc == FXP_OK && !*n &&
        k->cons_err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        fxp__kafka_err(k, "kafka consumer of %s: %s", k->topic[k->stream],
                       k->cons_errstr);
        rc = FXP_EUNAVAIL;
    }
    return rc;
}

/* ---- commits (note 2) ---- */

/* Send the offsets and wait for the answer; FXP_OK or an error. */
static int commit_offsets(struct fxp_kafka *k,
                          rd_kafka_topic_partition_list_t *offs)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->cons);
    int tmo = k->b->opts.request_timeout_ms > 0 ? k->b->opts.request_timeout_ms
                                                : 5000;
    rd_kafka_resp_err_t err;
    rd_kafka_event_t *ev;

    err = rd_kafka_commit_queue(k->cons, offs, q, NULL, NULL);
    ev = err ? NULL : rd_kafka_queue_poll(q, tmo);
    if (!err && !ev)
        err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (ev) {
        const rd_kafka_topic_partition_list_t *res =
            rd_kafka_event_topic_partition_list(ev);
        err = rd_kafka_event_error(ev);
        for (int i = 0; !err && res && i < res->cnt; i++)
            err = res->elems[i].err;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    if (!err)
        return FXP_OK;
    fxp__kafka_err(k, "kafka commit of %d partitions of %s for group %s: %s",
                   offs->cnt, k->topic[k->stream], k->b->opts.group,
                   rd_kafka_err2str(err));
    return fxp__kafka_classify(err);
}

int fxp__kafka_commit_through(struct fxp_bus *b, uint64_t ordinal)
{
    struct fxp_kafka *k = b->impl;
    rd_kafka_topic_partition_list_t *offs;
    uint64_t last = 0;
    int rc;

    if (!k->cons) {
        fxp__kafka_err(k, "kafka commit: not subscribed");
        return FXP_EINVAL;
    }
    offs = rd_kafka_topic_partition_list_new(8);
    pthread_mutex_lock(&k->mu);
    for (size_t i = k->pend_head; i < k->pend_n; i++) {
        const struct fxp_kafka_pending *p = &k->pend[i];
        rd_kafka_topic_partition_t *tp;

        if (p->ordinal > ordinal)
            break;
        last = p->ordinal;
        tp = rd_kafka_topic_partition_list_find(offs, k->topic[k->stream],
                                                p->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(offs, k->topic[k->stream],
                                                   p->partition);
        if (p->offset + 1 > tp->offset)
            tp->offset = p->offset + 1;
    }
    pthread_mutex_unlock(&k->mu);
    rc = offs->cnt ? commit_offsets(k, offs) : FXP_OK;
    rd_kafka_topic_partition_list_destroy(offs);
    if (rc == FXP_OK && last) {
        pthread_mutex_lock(&k->mu);
        while (k->pend_head < k->pend_n &&
               k->pend[k->pend_head].ordinal <= last)
            k->pend_head++;
        if (k->pend_head == k->pend_n)
            k->pend_head = k->pend_n = 0;
        pthread_mutex_unlock(&k->mu);
    }
    return rc;
}

int fxp__kafka_commit(struct fxp_bus *b)
{
    struct fxp_kafka *k = b->impl;
    int rc = fxp__kafka_commit_through(b, UINT64_MAX);

    held_free(k);
    return rc;
}

int fxp__kafka_pause(struct fxp_bus *b, bool paused)
{
    struct fxp_kafka *k = b->impl;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t err;

    k->paused = paused;
    if (!k->cons)
        return FXP_OK;
    err = rd_kafka_assignment(k->cons, &parts);
    if (!err && parts->cnt)
        err = paused ? rd_kafka_pause_partitions(k->cons, parts)
                     : rd_kafka_resume_partitions(k->cons, parts);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (!err)
        return FXP_OK;
    fxp__kafka_err(k, "kafka %s of %s: %s", paused ? "pause" : "resume",
                   k->topic[k->stream], rd_kafka_err2str(err));
    return fxp__kafka_classify(err);
}
