/*
 * bus_nats_int.h - the NATS JetStream bus backend's state, shared by
 * bus_nats.c (connection, streams, ping, close), bus_nats_pub.c
 * (asynchronous publishing and flush) and bus_nats_sub.c (the durable pull
 * consumer: fetch and commit). Internal; see docs/wire-format.md.
 */
#ifndef FXPIPE_BUS_NATS_INT_H
#define FXPIPE_BUS_NATS_INT_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus_int.h"

#define FXP_NATS_NAME_MAX 128      /* prefixes, stream and subject prefixes */
#define FXP_NATS_SUBJ_MAX 256      /* a whole publish subject */
#define FXP_NATS_ACK_WAIT 30000LL  /* ms a fetched message stays ours */
#define FXP_NATS_MAX_ACKP 65536    /* unacknowledged messages per group */
#define FXP_NATS_DUP_MS   120000LL /* the streams' de-duplication window */
#define FXP_NS_PER_MS     1000000LL

/* A fetched message handed to the caller and not yet committed. */
struct fxp_nats_pend {
    natsMsg *m;
    uint64_t ord; /* its fetch ordinal (1 = first ever handed out) */
};

/* What the library's callback threads report about publishing. Allocated
 * apart from struct fxp_nats: once connected it is freed by the closed
 * callback, the last one the library runs for the connection, so a late
 * callback never touches freed memory. */
struct fxp_nats_cbs {
    pthread_mutex_t mu;
    int refs;        /* the handle's and, once connected, the closed
                        callback's */
    int rc;          /* the first failure's fxp_err */
    uint64_t failed; /* publishes refused or nacked since the last flush */
    bool lost;       /* the connection dropped since the last flush */
    char err[256];   /* the first failure's detail */
};

struct fxp_nats {
    struct fxp_bus *b; /* the handle (opts, err) */
    natsOptions *nopts;
    natsConnection *nc;
    jsCtx *js;
    char servers[192]; /* as given (truncated), for messages */
    char prefix[FXP_NATS_NAME_MAX];
    char stream[2][FXP_NATS_NAME_MAX]; /* indexed by fxp_bus_stream */

    struct fxp_nats_cbs *cbs; /* publishing state the callbacks share */
    bool published;           /* the library has its async-publish state (before
                                 that, asking for its pending list crashes) */

    /* Consuming. */
    natsSubscription *sub;
    fxp_bus_stream sub_st;
    char sub_prefix[FXP_NATS_NAME_MAX]; /* "<prefix>.<stream>." */
    size_t sub_prefix_len;
    uint64_t next_ord; /* ordinal the next handed-out message gets */
    pthread_mutex_t pend_mu;
    struct fxp_nats_pend *pend; /* live entries are [pend_head, pend_len) */
    size_t pend_head, pend_len, pend_cap;
};

/* bus_nats.c: the fxp_err for a libnats status (timeouts and lost
 * connections are FXP_EUNAVAIL), and b->err = "<what>: <detail>". */
int fxp__nats_err(natsStatus s);
int fxp__nats_fail(struct fxp_nats *n, natsStatus s, const char *what);
bool fxp__nats_connected(const struct fxp_nats *n);

/* bus_nats_pub.c */
int fxp__nats_publish(struct fxp_bus *b, fxp_bus_stream st, const char *key,
                      const void *payload, size_t len, const char *msg_id,
                      const char *correlation_id);
int fxp__nats_flush(struct fxp_bus *b, int timeout_ms);
/* Record a failure of publishing (the first code and detail are kept). */
void fxp__nats_pub_failed(struct fxp_nats_cbs *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Library callbacks; closure is the struct fxp_nats_cbs. */
void fxp__nats_on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure);
void fxp__nats_on_disconnect(natsConnection *nc, void *closure);
void fxp__nats_on_closed(natsConnection *nc, void *closure);

/* bus_nats_sub.c */
int fxp__nats_subscribe(struct fxp_bus *b, fxp_bus_stream st);
int fxp__nats_fetch(struct fxp_bus *b, size_t max, int timeout_ms,
                    fxp_bus_msg_fn fn, void *ud, size_t *n);
int fxp__nats_commit(struct fxp_bus *b);
int fxp__nats_commit_through(struct fxp_bus *b, uint64_t ordinal);
/* Give back every uncommitted message (negative ack: redelivered at once)
 * and destroy the subscription, keeping the durable. */
void fxp__nats_unsubscribe_keep(struct fxp_nats *n);

#endif
