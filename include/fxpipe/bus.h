/*
 * bus.h - the message bus between fxpipe's services: NATS JetStream or
 * Kafka, named by URL, behind one interface (docs/wire-format.md).
 *
 * Two streams: TICKS (ingest -> aggregate) and BARS (aggregate -> bridge).
 * A message is one encoded batch (batchcodec.h) of one symbol, published
 * with a key (the symbol: the NATS subject suffix, the Kafka message key,
 * so order per symbol holds), a message id for de-duplication and a
 * correlation id. Consumers fetch, hand the messages to the next stage and
 * commit only once that stage holds them durably: a crash before the
 * commit means redelivery, never loss.
 *
 * A handle is used by one thread at a time, except fxp_bus_commit_through,
 * which may be called from a second thread while another fetches.
 */
#ifndef FXPIPE_BUS_H
#define FXPIPE_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fxp_bus;

typedef enum fxp_bus_stream {
    FXP_BUS_TICKS = 0, /* validated ticks and the rejects of ingest */
    FXP_BUS_BARS = 1   /* bars of every timeframe, open and closed */
} fxp_bus_stream;

/* "ticks", "bars". */
const char *fxp_bus_stream_name(fxp_bus_stream st);

/* The content type every fxpipe message carries (header "Content-Type"). */
#define FXP_BUS_CONTENT_TYPE "application/vnd.fxpipe.batch; v=1"

struct fxp_bus_opts {
    const char *prefix;     /* subject / topic prefix ("fxpipe") */
    const char *client_id;  /* names the connection in server logs */
    const char *group;      /* consumer: durable name / consumer group */
    int connect_timeout_ms; /* total wait for the bus at open (30000) */
    int request_timeout_ms; /* one publish ack, one admin call (5000) */
    uint32_t partitions;    /* kafka: partitions of topics it creates (4) */
    int64_t max_age_ms;     /* retention of the streams/topics it creates
                               (7 days) */
    size_t max_pending;     /* unacknowledged async publishes (4096) */
};

void fxp_bus_opts_default(struct fxp_bus_opts *o);

/* Open the bus named by url: "nats://H:P[,H:P...]" or
 * "kafka://H:P[,H:P...]". Connects (retrying until connect_timeout_ms),
 * creates the streams/topics or checks those that exist. Errors:
 * FXP_EINVAL (bad url: the message says what was expected),
 * FXP_EUNAVAIL (not reachable in time), FXP_EIO (a refused stream
 * definition ...), with the reason in errbuf. */
int fxp_bus_open(const char *url, const struct fxp_bus_opts *o,
                 struct fxp_bus **out, char *errbuf, size_t errlen);

/* Close: pending publishes are abandoned (call fxp_bus_flush first);
 * uncommitted fetched messages will be redelivered. NULL is a no-op. */
void fxp_bus_close(struct fxp_bus *b);

/* "nats" or "kafka"; the detail of the last failure ("" if none). */
const char *fxp_bus_backend(const struct fxp_bus *b);
const char *fxp_bus_errmsg(const struct fxp_bus *b);

/* Is the server reachable now (a round trip within timeout_ms)? For
 * /readyz. FXP_OK or FXP_EUNAVAIL. */
int fxp_bus_ping(struct fxp_bus *b, int timeout_ms);

/* ---- Producing ---- */

/* Publish asynchronously; payload, key and ids are copied. key: the
 * symbol. msg_id: the de-duplication id (NATS Nats-Msg-Id; a header on
 * Kafka, where the idempotent producer de-duplicates its own retries).
 * correlation_id may be NULL. Blocks while max_pending publishes are
 * unacknowledged. Returns FXP_OK or FXP_EUNAVAIL / FXP_EIO. */
int fxp_bus_publish(struct fxp_bus *b, fxp_bus_stream st, const char *key,
                    const void *payload, size_t len, const char *msg_id,
                    const char *correlation_id);

/* Wait until every message published since the last successful flush is
 * acknowledged by the server (held durably: JetStream stored it, Kafka
 * acks=all). FXP_OK, FXP_ETIMEDOUT or FXP_EUNAVAIL/FXP_EIO: then some of
 * them may be missing and the caller must publish all of them again (the
 * message ids make that harmless). */
int fxp_bus_flush(struct fxp_bus *b, int timeout_ms);

/* ---- Consuming ---- */

/* One fetched message; pointers valid until the next fetch or commit. */
struct fxp_bus_msg {
    const void *data;
    size_t len;
    const char *key;            /* the symbol, NUL-terminated */
    const char *msg_id;         /* "" when absent */
    const char *correlation_id; /* "" when absent */
    /* Where it sits: NATS the stream sequence; Kafka
     * (partition << 40) | offset. Grows within a key. */
    uint64_t pos;
    uint32_t redeliveries; /* times delivered before (0 the first time;
                              Kafka: unknown, 0) */
};

/* Become a member of opts.group reading stream st (a durable pull
 * consumer with explicit acks; a Kafka consumer group with manual
 * commits). Call once, before fetching. */
int fxp_bus_subscribe(struct fxp_bus *b, fxp_bus_stream st);

typedef int (*fxp_bus_msg_fn)(void *ud, const struct fxp_bus_msg *m);

/* Fetch up to max messages, waiting at most timeout_ms for the first;
 * calls fn for each in order (non-zero from fn stops early: the rest
 * will be redelivered). *n gets the number handed to fn. FXP_OK (also
 * when none came), FXP_EUNAVAIL/FXP_EIO. The messages stay uncommitted. */
int fxp_bus_fetch(struct fxp_bus *b, size_t max, int timeout_ms,
                  fxp_bus_msg_fn fn, void *ud, size_t *n);

/* Commit every message handed out by fetch so far: the next stage holds
 * them durably. FXP_OK or an error (then they will be redelivered). */
int fxp_bus_commit(struct fxp_bus *b);

/* Commit the messages handed out so far whose fetch ordinal (1 for the
 * first message ever handed out by this handle, 2 for the next ...) is
 * <= ordinal. For a consumer whose durable point lags its reading (a
 * journal written by another thread). Thread-safe against fetch. */
int fxp_bus_commit_through(struct fxp_bus *b, uint64_t ordinal);

/* Stop / restart delivery without leaving the group (Kafka: pause the
 * assigned partitions, offsets kept; NATS: nothing to do for a pull
 * consumer). */
int fxp_bus_pause(struct fxp_bus *b, bool paused);

#endif
