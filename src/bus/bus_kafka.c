/*
 * bus_kafka.c - the Kafka backend of the bus (bus.h) on librdkafka: open,
 * the idempotent producer, ping, close and the helpers both handles share.
 * Start-up checks are in bus_kafka_topics.c, the consumer group member in
 * bus_kafka_consume.c.
 *
 * Design notes
 *
 *  1. Open checks the servers' syntax, makes the producer, waits for the
 *     cluster and makes missing topics (bus_kafka_topics.c).
 *  2. The producer is idempotent (acks=all, the broker drops the
 *     producer's own retries), linger.ms=5, lz4 when built in. The key is
 *     the symbol, so a symbol keeps one partition and its order. Headers:
 *     fxpipe-msg-id, content-type, correlation-id. max_pending bounds the
 *     producer's queue (queue.buffering.max.messages): a full queue is
 *     polled until request_timeout_ms, then FXP_EUNAVAIL.
 *  3. Delivery reports are counted; flush succeeds only if every report
 *     since the previous flush did. A fatal idempotence error makes a new
 *     producer (the old one's messages count as failed, so the caller
 *     republishes them after the next flush).
 *  4. librdkafka never prints: the log callback keeps the last warning
 *     for error messages, and the error callback the last client error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/bus_kafka_int.h"
#include "fxpipe/err.h"

#define HDR_MSG_ID       "fxpipe-msg-id"
#define HDR_CONTENT_TYPE "content-type"
#define HDR_CORR_ID      "correlation-id"

int64_t fxp__kafka_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fxp__kafka_err(struct fxp_kafka *k, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&k->mu);
    va_start(ap, fmt);
    vsnprintf(k->b->err, sizeof k->b->err, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&k->mu);
}

int fxp__kafka_classify(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
        return FXP_EUNAVAIL;
    default:
        return FXP_EIO;
    }
}

const char *fxp__kafka_last_log(struct fxp_kafka *k, char *buf, size_t len)
{
    pthread_mutex_lock(&k->log_mu);
    snprintf(buf, len, "%s", k->last_log);
    pthread_mutex_unlock(&k->log_mu);
    return buf;
}

/* Runs in librdkafka's threads (note 4). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    struct fxp_kafka *k = rd_kafka_opaque(rk);

    if (!k || level > 4)
        return;
    pthread_mutex_lock(&k->log_mu);
    snprintf(k->last_log, sizeof k->last_log, "%s: %s", fac, buf);
    pthread_mutex_unlock(&k->log_mu);
}

/* Runs in the thread polling the handle that reported it. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *op)
{
    struct fxp_kafka *k = op;

    if (!k->cons || rk != k->cons) {
        k->prod_err = (rd_kafka_resp_err_t)err;
        return;
    }
    k->cons_err = (rd_kafka_resp_err_t)err;
    snprintf(k->cons_errstr, sizeof k->cons_errstr, "%s", reason);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op)
{
    struct fxp_kafka *k = op;

    (void)rk;
    if (!m->err) {
        k->dr_ok++;
        return;
    }
    if (!k->dr_failed++) {
        k->dr_err = m->err;
        snprintf(k->dr_errstr, sizeof k->dr_errstr, "%s",
                 rd_kafka_err2str(m->err));
    }
}

int fxp__kafka_set(rd_kafka_conf_t *c, const char *name, const char *val,
                   char *errbuf, size_t errlen)
{
    char why[256];

    if (rd_kafka_conf_set(c, name, val, why, sizeof why) == RD_KAFKA_CONF_OK)
        return FXP_OK;
    snprintf(errbuf, errlen, "kafka: cannot set %s=%s: %s", name, val, why);
    return FXP_EINVAL;
}

rd_kafka_conf_t *fxp__kafka_conf(struct fxp_kafka *k, char *errbuf,
                                 size_t errlen)
{
    const struct fxp_bus_opts *o = &k->b->opts;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char num[32];

    snprintf(num, sizeof num, "%d",
             o->request_timeout_ms > 0 ? o->request_timeout_ms : 5000);
    if (fxp__kafka_set(c, "bootstrap.servers", k->servers, errbuf, errlen) ||
        fxp__kafka_set(c, "client.id",
                       o->client_id && o->client_id[0] ? o->client_id
                                                       : "fxpipe",
                       errbuf, errlen) ||
        fxp__kafka_set(c, "socket.timeout.ms", num, errbuf, errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_log_cb(c, log_cb);
    rd_kafka_conf_set_error_cb(c, error_cb);
    return c;
}

/* "h:p[,h:p...]": every item a host and, when given, a port 1..65535. */
static int check_servers(const char *s, char *errbuf, size_t errlen)
{
    const char *p = s;

    for (;;) {
        size_t n = strcspn(p, ",");
        const char *colon = memchr(p, ':', n);

        if (!n || colon == p)
            goto bad;
        if (colon) {
            char *end;
            long port = strtol(colon + 1, &end, 10);
            if (end != p + n || colon + 1 == end || port < 1 || port > 65535)
                goto bad;
        }
        if (!p[n])
            return FXP_OK;
        p += n + 1;
    }
bad:
    snprintf(errbuf, errlen,
             "bad kafka servers '%s' (expected HOST:PORT[,HOST:PORT...])", s);
    return FXP_EINVAL;
}

/* Topic names are [A-Za-z0-9._-], at most 249 bytes. */
static int name_topics(struct fxp_kafka *k, char *errbuf, size_t errlen)
{
    const char *prefix = k->b->opts.prefix;

    if (!prefix || !prefix[0])
        prefix = "fxpipe";
    if (strlen(prefix) > 200 ||
        strspn(prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789._-") != strlen(prefix)) {
        snprintf(errbuf, errlen,
                 "bad kafka topic prefix '%s' (letters, digits, '.', '_', "
                 "'-'; at most 200 bytes)",
                 prefix);
        return FXP_EINVAL;
    }
    for (int i = 0; i < 2; i++)
        snprintf(k->topic[i], sizeof k->topic[i], "%s.%s", prefix,
                 fxp_bus_stream_name((fxp_bus_stream)i));
    return FXP_OK;
}

static rd_kafka_t *new_producer(struct fxp_kafka *k, char *errbuf,
                                size_t errlen)
{
    const struct fxp_bus_opts *o = &k->b->opts;
    rd_kafka_conf_t *c = fxp__kafka_conf(k, errbuf, errlen);
    char num[32], feat[512], why[256];
    size_t flen = sizeof feat;
    rd_kafka_t *rk;

    if (!c)
        return NULL;
    size_t pend = o->max_pending ? o->max_pending : 4096;
    snprintf(num, sizeof num, "%zu", pend > 10000000 ? 10000000 : pend);
    if (rd_kafka_conf_get(c, "builtin.features", feat, &flen) !=
        RD_KAFKA_CONF_OK)
        feat[0] = '\0';
    if (fxp__kafka_set(c, "enable.idempotence", "true", errbuf, errlen) ||
        fxp__kafka_set(c, "acks", "all", errbuf, errlen) ||
        fxp__kafka_set(c, "linger.ms", "5", errbuf, errlen) ||
        fxp__kafka_set(c, "compression.codec",
                       strstr(feat, "lz4") ? "lz4" : "none", errbuf, errlen) ||
        fxp__kafka_set(c, "queue.buffering.max.messages", num, errbuf,
                       errlen) ||
        fxp__kafka_set(c, "allow.auto.create.topics", "false", errbuf,
                       errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    snprintf(num, sizeof num, "%d",
             o->request_timeout_ms > 0 ? o->request_timeout_ms : 5000);
    if (fxp__kafka_set(c, "request.timeout.ms", num, errbuf, errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(c, dr_msg_cb);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(c);
        snprintf(errbuf, errlen, "kafka: cannot create a producer: %s", why);
    }
    return rk;
}

/* Topic handles for the producer; FXP_OK or FXP_EIO. */
static int open_topics(struct fxp_kafka *k, char *errbuf, size_t errlen)
{
    for (int i = 0; i < 2; i++) {
        k->rkt[i] = rd_kafka_topic_new(k->prod, k->topic[i], NULL);
        if (!k->rkt[i]) {
            snprintf(errbuf, errlen, "kafka: cannot use topic %s: %s",
                     k->topic[i], rd_kafka_err2str(rd_kafka_last_error()));
            return FXP_EIO;
        }
    }
    return FXP_OK;
}

static void close_producer(struct fxp_kafka *k, int flush_ms)
{
    if (!k->prod)
        return;
    if (flush_ms > 0)
        rd_kafka_flush(k->prod, flush_ms);
    rd_kafka_purge(k->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(k->prod, 0); /* their reports count as failed */
    for (int i = 0; i < 2; i++)
        if (k->rkt[i])
            rd_kafka_topic_destroy(k->rkt[i]);
    k->rkt[0] = k->rkt[1] = NULL;
    rd_kafka_destroy(k->prod);
    k->prod = NULL;
}

/* Note 3: replace a producer that hit a fatal error; what it held counts
 * as failed, so the next flush makes the caller publish again. */
static int reset_producer(struct fxp_kafka *k)
{
    char why[512], fatal[256] = "";

    if (k->prod) {
        rd_kafka_fatal_error(k->prod, fatal, sizeof fatal);
        close_producer(k, 0); /* its messages' reports count as failed */
        if (!k->dr_failed)
            k->dr_failed = 1;
        /* Retriable: the new producer takes the messages published again. */
        k->dr_err = RD_KAFKA_RESP_ERR__PURGE_QUEUE;
        snprintf(k->dr_errstr, sizeof k->dr_errstr, "producer failed: %.200s",
                 fatal);
    }
    k->prod = new_producer(k, why, sizeof why);
    if (!k->prod || open_topics(k, why, sizeof why) != FXP_OK) {
        close_producer(k, 0);
        fxp__kafka_err(k, "%s", why);
        return FXP_EIO;
    }
    return FXP_OK;
}

static int kafka_ping(struct fxp_bus *b, int timeout_ms)
{
    struct fxp_kafka *k = b->impl;
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err;

    if (!k->prod && reset_producer(k) != FXP_OK)
        return FXP_EUNAVAIL;
    err = rd_kafka_metadata(k->prod, 0, NULL, &md,
                            timeout_ms > 0 ? timeout_ms : 1);
    if (!err) {
        rd_kafka_metadata_destroy(md);
        return FXP_OK;
    }
    fxp__kafka_err(k, "kafka servers %s: no answer within %d ms: %s",
                   k->servers, timeout_ms, rd_kafka_err2str(err));
    return FXP_EUNAVAIL;
}

static int kafka_publish(struct fxp_bus *b, fxp_bus_stream st, const char *key,
                         const void *payload, size_t len, const char *msg_id,
                         const char *correlation_id)
{
    struct fxp_kafka *k = b->impl;
    int64_t deadline = 0;
    rd_kafka_resp_err_t err;
    bool reset = false;

    if ((unsigned)st > FXP_BUS_BARS || !key || (!payload && len)) {
        fxp__kafka_err(k, "kafka publish: bad stream, key or payload");
        return FXP_EINVAL;
    }
    if (!k->prod && reset_producer(k) != FXP_OK)
        return FXP_EIO;
    for (;;) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(3);

        if (msg_id)
            rd_kafka_header_add(h, HDR_MSG_ID, -1, msg_id, -1);
        rd_kafka_header_add(h, HDR_CONTENT_TYPE, -1, FXP_BUS_CONTENT_TYPE, -1);
        if (correlation_id)
            rd_kafka_header_add(h, HDR_CORR_ID, -1, correlation_id, -1);
        err =
            rd_kafka_producev(k->prod, RD_KAFKA_V_RKT(k->rkt[st]),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE((void *)(uintptr_t)payload, len),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (!err) {
            rd_kafka_poll(k->prod, 0); /* serve delivery reports */
            return FXP_OK;
        }
        rd_kafka_headers_destroy(h);
        if (err == RD_KAFKA_RESP_ERR__FATAL && !reset) {
            if (reset_producer(k) != FXP_OK)
                return FXP_EIO;
            reset = true;
            continue;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        /* Note 2: wait for acknowledgements to make room. */
        int64_t now = fxp__kafka_now_ms();
        if (!deadline)
            deadline = now + (b->opts.request_timeout_ms > 0
                                  ? b->opts.request_timeout_ms
                                  : 5000);
        else if (now >= deadline)
            break;
        rd_kafka_poll(k->prod, 10);
    }
    fxp__kafka_err(k, "kafka publish to %s (key %s, %zu bytes): %s",
                   k->topic[st], key, len,
                   err == RD_KAFKA_RESP_ERR__QUEUE_FULL
                       ? "max_pending messages unacknowledged for "
                         "request_timeout_ms"
                       : rd_kafka_err2str(err));
    return fxp__kafka_classify(err);
}

static int kafka_flush(struct fxp_bus *b, int timeout_ms)
{
    struct fxp_kafka *k = b->impl;
    rd_kafka_resp_err_t err;
    int rc = FXP_OK;

    if (!k->prod && reset_producer(k) != FXP_OK)
        return FXP_EIO;
    err = rd_kafka_flush(k->prod, timeout_ms > 0 ? timeout_ms : 0);
    if (rd_kafka_fatal_error(k->prod, NULL, 0))
        rc = reset_producer(k);
    if (k->dr_failed) {
        fxp__kafka_err(k, "kafka: %llu of %llu messages not stored: %s",
                       (unsigned long long)k->dr_failed,
                       (unsigned long long)(k->dr_failed + k->dr_ok),
                       k->dr_errstr);
        rc = rc ? rc : fxp__kafka_classify(k->dr_err);
    } else if (rc == FXP_OK && err) {
        bool down = k->prod_err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
        fxp__kafka_err(k, "kafka: %d messages unacknowledged after %d ms%s",
                       rd_kafka_outq_len(k->prod), timeout_ms,
                       down ? " (all brokers down)" : "");
        rc = down ? FXP_EUNAVAIL : FXP_ETIMEDOUT;
    }
    k->dr_ok = k->dr_failed = 0;
    k->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    k->prod_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    return rc;
}

static void kafka_free(struct fxp_kafka *k)
{
    fxp__kafka_consumer_close(k);
    close_producer(k, 0);
    free(k->servers);
    pthread_mutex_destroy(&k->mu);
    pthread_mutex_destroy(&k->log_mu);
    free(k);
}

static void kafka_close(void *impl)
{
    struct fxp_kafka *k = impl;
    int tmo = k->b->opts.request_timeout_ms;

    fxp__kafka_consumer_close(k);
    close_producer(k, tmo > 0 && tmo < 1000 ? tmo : 1000);
    kafka_free(k);
}

static const struct fxp_bus_ops kafka_ops = {
    .name = "kafka",
    .ping = kafka_ping,
    .publish = kafka_publish,
    .flush = kafka_flush,
    .subscribe = fxp__kafka_subscribe,
    .fetch = fxp__kafka_fetch,
    .commit = fxp__kafka_commit,
    .commit_through = fxp__kafka_commit_through,
    .pause = fxp__kafka_pause,
    .close = kafka_close,
};

int fxp__bus_open_kafka(struct fxp_bus *b, const char *servers, char *errbuf,
                        size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    struct fxp_kafka *k;
    int64_t deadline;
    int rc;

    rc = check_servers(servers, errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    k = calloc(1, sizeof *k);
    if (!k || !(k->servers = strdup(servers))) {
        free(k);
        snprintf(errbuf, errlen, "kafka %s: out of memory", servers);
        return FXP_ENOMEM;
    }
    k->b = b;
    k->stream = -1;
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->log_mu, NULL);
    rc = name_topics(k, errbuf, errlen);
    if (rc != FXP_OK)
        goto fail;
    deadline =
        fxp__kafka_now_ms() +
        (b->opts.connect_timeout_ms > 0 ? b->opts.connect_timeout_ms : 30000);
    rc = FXP_EINVAL;
    k->prod = new_producer(k, errbuf, errlen);
    if (!k->prod)
        goto fail;
    rc = fxp__kafka_wait_cluster(k, deadline, &md, errbuf, errlen);
    if (rc == FXP_OK)
        rc = fxp__kafka_ensure_topics(k, md, deadline, errbuf, errlen);
    if (rc == FXP_OK)
        rc = open_topics(k, errbuf, errlen);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rc != FXP_OK)
        goto fail;
    b->ops = &kafka_ops;
    b->impl = k;
    return FXP_OK;

fail:
    kafka_free(k);
    return rc;
}
