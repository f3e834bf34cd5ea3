/*
 * bus_kafka_int.h - the Kafka backend's handle, shared by bus_kafka.c
 * (open, topics, producing, close) and bus_kafka_consume.c (the consumer
 * group member: fetch, commits, pause). Internal.
 */
#ifndef FXPIPE_BUS_KAFKA_INT_H
#define FXPIPE_BUS_KAFKA_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "bus/bus_int.h"

/* A message handed out by fetch and not yet committed. */
struct fxp_kafka_pending {
    int32_t partition;
    int64_t offset;
    uint64_t ordinal; /* fetch ordinal: 1 for the handle's first message */
};

/* A fetched message kept alive until the next fetch or commit, with the
 * NUL-terminated copies of its key and ids. */
struct fxp_kafka_held {
    rd_kafka_message_t *m;
    char *strs;
};

struct fxp_kafka {
    struct fxp_bus *b;
    char *servers;
    char topic[2][256]; /* "<prefix>.ticks", "<prefix>.bars" */

    /* log lines of librdkafka's threads: the last warning or error */
    pthread_mutex_t log_mu;
    char last_log[256];

    /* producer (its callbacks run in the publishing thread) */
    rd_kafka_t *prod;
    rd_kafka_topic_t *rkt[2];
    uint64_t dr_ok, dr_failed;  /* delivery reports since the last flush */
    rd_kafka_resp_err_t dr_err; /* the first failure since then */
    char dr_errstr[256];
    rd_kafka_resp_err_t prod_err; /* last client-level error (error_cb) */

    /* consumer (callbacks run in the fetching thread) */
    rd_kafka_t *cons;
    int stream; /* subscribed stream, -1 before subscribe */
    rd_kafka_resp_err_t cons_err;
    char cons_errstr[256];
    bool paused;
    rd_kafka_message_t *stash; /* refused by fn: handed out first next */
    struct fxp_kafka_held *held;
    size_t n_held, cap_held;

    /* guards the pending list, the ordinal and b->err (commit_through
     * may run in a second thread) */
    pthread_mutex_t mu;
    struct fxp_kafka_pending *pend;
    size_t pend_head, pend_n, pend_cap; /* live entries [head, n) */
    uint64_t ordinal;                   /* of the last handed out */
};

/* Format the reason of a failure into b->err under k->mu. */
void fxp__kafka_err(struct fxp_kafka *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Callbacks and settings both handles share: bootstrap servers,
 * client.id, the log and error callbacks, k as opaque. NULL with errbuf
 * filled on failure. */
rd_kafka_conf_t *fxp__kafka_conf(struct fxp_kafka *k, char *errbuf,
                                 size_t errlen);

/* Set one property; FXP_OK or FXP_EINVAL with the reason in errbuf. */
int fxp__kafka_set(rd_kafka_conf_t *c, const char *name, const char *val,
                   char *errbuf, size_t errlen);

/* The last warning librdkafka logged ("" if none), copied into buf. */
const char *fxp__kafka_last_log(struct fxp_kafka *k, char *buf, size_t len);

/* FXP_EUNAVAIL for errors a retry may cure (brokers, leaders, timeouts),
 * FXP_EIO for the rest. */
int fxp__kafka_classify(rd_kafka_resp_err_t err);

/* Milliseconds on a monotonic clock. */
int64_t fxp__kafka_now_ms(void);

/* Start-up (bus_kafka_topics.c): wait for the cluster until deadline
 * (*md: its metadata, FXP_EUNAVAIL), then make the missing topics
 * (FXP_EIO when refused). */
int fxp__kafka_wait_cluster(struct fxp_kafka *k, int64_t deadline,
                            const struct rd_kafka_metadata **md, char *errbuf,
                            size_t errlen);
int fxp__kafka_ensure_topics(struct fxp_kafka *k,
                             const struct rd_kafka_metadata *md,
                             int64_t deadline, char *errbuf, size_t errlen);

/* Consumer side (bus_kafka_consume.c). */
int fxp__kafka_subscribe(struct fxp_bus *b, fxp_bus_stream st);
int fxp__kafka_fetch(struct fxp_bus *b, size_t max, int timeout_ms,
                     fxp_bus_msg_fn fn, void *ud, size_t *n);
int fxp__kafka_commit(struct fxp_bus *b);
int fxp__kafka_commit_through(struct fxp_bus *b, uint64_t ordinal);
int fxp__kafka_pause(struct fxp_bus *b, bool paused);
/* Leave the group and free the consumer; safe without a consumer. */
void fxp__kafka_consumer_close(struct fxp_kafka *k);

#endif
