/*
 * bus_kafka_topics.c - the Kafka backend's start-up: wait for the cluster
 * and make sure "<prefix>.ticks" and "<prefix>.bars" exist.
 *
 * Design notes
 *
 *  1. The cluster is there once a metadata request for all topics
 *     succeeds; until connect_timeout_ms it is retried, then FXP_EUNAVAIL
 *     names the servers, librdkafka's error and the last connection error
 *     it logged.
 *  2. Missing topics are made with the Admin API: opts.partitions
 *     partitions, replication factor min(3, brokers), retention.ms =
 *     opts.max_age_ms; "already exists" is success. A refusal is FXP_EIO
 *     with the broker's reason.
 *  3. A cluster without CreateTopics (librdkafka's mock cluster answers no
 *     controller) gets a metadata request for the topic from a handle
 *     that allows auto-creation, so the broker makes it with its own
 *     defaults; the producer itself never auto-creates (a real broker
 *     would otherwise make the topics with its defaults before the Admin
 *     API could).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bus/bus_kafka_int.h"
#include "fxpipe/err.h"

int fxp__kafka_wait_cluster(struct fxp_kafka *k, int64_t deadline,
                            const struct rd_kafka_metadata **md, char *errbuf,
                            size_t errlen)
{
    rd_kafka_resp_err_t err;
    char last[256];

    for (;;) {
        int64_t left = deadline - fxp__kafka_now_ms();

        err = rd_kafka_metadata(k->prod, 1, NULL, md, left > 0 ? (int)left : 1);
        if (!err)
            return FXP_OK;
        if (fxp__kafka_now_ms() >= deadline)
            break;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    snprintf(errbuf, errlen,
             "kafka servers %s not reachable within %d ms: %s%s%s", k->servers,
             k->b->opts.connect_timeout_ms, rd_kafka_err2str(err),
             fxp__kafka_last_log(k, last, sizeof last)[0] ? "; " : "", last);
    return FXP_EUNAVAIL;
}

static const struct rd_kafka_metadata_topic *
find_topic(const struct rd_kafka_metadata *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, name) && !md->topics[i].err &&
            md->topics[i].partition_cnt > 0)
            return &md->topics[i];
    return NULL;
}

/* Admin CreateTopics for the missing ones. FXP_OK, FXP_EIO (refused:
 * errbuf says why), FXP_EAGAIN (the request itself failed). */
static int create_topics(struct fxp_kafka *k, const bool *missing, int rf,
                         int timeout_ms, char *errbuf, size_t errlen)
{
    const struct fxp_bus_opts *o = &k->b->opts;
    rd_kafka_NewTopic_t *nt[2];
    rd_kafka_AdminOptions_t *ao;
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->prod);
    rd_kafka_event_t *ev;
    char ret[32], why[256];
    size_t n = 0, nres;
    int rc = FXP_OK;

    snprintf(ret, sizeof ret, "%lld",
             (long long)(o->max_age_ms > 0 ? o->max_age_ms : -1));
    for (int i = 0; i < 2; i++) {
        if (!missing[i])
            continue;
        nt[n] = rd_kafka_NewTopic_new(k->topic[i],
                                      o->partitions ? (int)o->partitions : 4,
                                      rf, why, sizeof why);
        if (!nt[n]) {
            snprintf(errbuf, errlen, "kafka: cannot define topic %s: %s",
                     k->topic[i], why);
            rc = FXP_EIO;
            goto out;
        }
        rd_kafka_NewTopic_set_config(nt[n++], "retention.ms", ret);
    }
    ao = rd_kafka_AdminOptions_new(k->prod, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, why, sizeof why);
    rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, why,
                                                sizeof why);
    rd_kafka_CreateTopics(k->prod, nt, n, ao, q);
    rd_kafka_AdminOptions_destroy(ao);
    ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    if (!ev || rd_kafka_event_error(ev)) {
        snprintf(errbuf, errlen, "CreateTopics: %s",
                 ev ? rd_kafka_event_error_string(ev) : "no answer");
        rc = FXP_EAGAIN;
    } else {
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(
                rd_kafka_event_CreateTopics_result(ev), &nres);
        for (size_t i = 0; i < nres && rc == FXP_OK; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            const char *es = rd_kafka_topic_result_error_string(tr[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                snprintf(errbuf, errlen, "kafka: cannot create topic %s: %s",
                         rd_kafka_topic_result_name(tr[i]),
                         es ? es : rd_kafka_err2str(e));
                rc = FXP_EIO;
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
out:
    for (size_t i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* A cluster without CreateTopics (note 1): ask for the topic's metadata
 * on a handle that allows the broker to auto-create it. */
static void auto_create(struct fxp_kafka *k, const bool *missing)
{
    char why[512];
    rd_kafka_conf_t *c = fxp__kafka_conf(k, why, sizeof why);
    const struct rd_kafka_metadata *md;
    rd_kafka_t *rk;

    if (!c)
        return;
    if (fxp__kafka_set(c, "allow.auto.create.topics", "true", why,
                       sizeof why) ||
        !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why))) {
        rd_kafka_conf_destroy(c);
        return;
    }
    for (int i = 0; i < 2; i++) {
        rd_kafka_topic_t *t;
        if (!missing[i] || !(t = rd_kafka_topic_new(rk, k->topic[i], NULL)))
            continue;
        if (!rd_kafka_metadata(rk, 0, t, &md, 2000))
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
    }
    rd_kafka_destroy(rk);
}

int fxp__kafka_ensure_topics(struct fxp_kafka *k,
                             const struct rd_kafka_metadata *md,
                             int64_t deadline, char *errbuf, size_t errlen)
{
    bool missing[2] = {!find_topic(md, k->topic[0]),
                       !find_topic(md, k->topic[1])};
    char why[300] = "";
    int rc, tmo = k->b->opts.request_timeout_ms > 0
                      ? k->b->opts.request_timeout_ms
                      : 5000;

    if (!missing[0] && !missing[1])
        return FXP_OK;
    rc = create_topics(k, missing, md->broker_cnt < 3 ? md->broker_cnt : 3, tmo,
                       why, sizeof why);
    if (rc == FXP_EIO) {
        snprintf(errbuf, errlen, "%s", why);
        return rc;
    }
    if (rc != FXP_OK)
        auto_create(k, missing);
    if (deadline < fxp__kafka_now_ms() + tmo)
        deadline = fxp__kafka_now_ms() + tmo;
    for (;;) {
        const struct rd_kafka_metadata *m2;

        if (!rd_kafka_metadata(k->prod, 1, NULL, &m2, 1000)) {
            for (int i = 0; i < 2; i++)
                missing[i] = missing[i] && !find_topic(m2, k->topic[i]);
            rd_kafka_metadata_destroy(m2);
        }
        if (!missing[0] && !missing[1])
            return FXP_OK;
        if (fxp__kafka_now_ms() >= deadline)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    snprintf(errbuf, errlen,
             "kafka: topic %s missing on %s and not created%s%s",
             missing[0] ? k->topic[0] : k->topic[1], k->servers,
             why[0] ? ": " : "", why);
    return FXP_EIO;
}
