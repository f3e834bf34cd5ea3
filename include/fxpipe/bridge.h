/*
 * bridge.h - the bridge service as a library: bars from the bus (the BARS
 * stream, bus.h) into one or more stores (store.h), commit only once every
 * store holds them (docs/services/bridge.md).
 *
 * Each bus message is one encoded store batch (batchcodec.h). A fetch of
 * up to `batch` messages is decoded, merged into one store batch (bars,
 * ticks, rejects; the highest version of a bar kept) and written to every
 * store, each behind its own circuit breaker and retried in order with the
 * retry queue's backoff schedule while nothing new is fetched. A batch a
 * store refuses as bad data, or that used every attempt, goes to the
 * dead-letter file naming the store. Then the messages are committed: a
 * crash before that means redelivery, and the stores' highest-version rule
 * makes a redelivered message change nothing.
 *
 * Life cycle: fxp_bridge_new (checks the configuration, registers health
 * checks and metrics), fxp_bridge_run (waits for the bus and the stores,
 * runs until *stop, closes them), fxp_bridge_free. One thread runs the
 * bridge; a health server (health.h) only reads the status it caches.
 * The library never prints: messages go to cfg.on_log.
 */
#ifndef FXPIPE_BRIDGE_H
#define FXPIPE_BRIDGE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/retryq.h"
#include "fxpipe/store.h"

struct fxp_health;
struct fxp_bridge;

#define FXP_BRIDGE_MAX_STORES 16

/* One destination store. */
struct fxp_bridge_store {
    const char *url; /* a store URL (store.h) */
    /* Optional: its failure only degrades readiness, and a batch it still
     * refuses after the last attempt goes to the dead-letter file instead
     * of holding the commit (needs dlq_path). A required store without a
     * dead-letter file is retried until it takes the batch. */
    bool optional;
};

struct fxp_bridge_cfg {
    const char *bus_url;   /* nats://... or kafka://... */
    const char *group;     /* consumer group / durable ("bridge") */
    const char *client_id; /* names the connection ("fxpipe-bridge") */
    const char *prefix;    /* subject / topic prefix (NULL: the bus's) */
    const struct fxp_bridge_store *stores;
    size_t n_stores;             /* 1 .. FXP_BRIDGE_MAX_STORES */
    struct fxp_store_opts store; /* options for every store */
    const char *dlq_path;        /* dead-letter file; NULL: none */
    size_t batch;                /* messages per fetch (64) */
    int fetch_timeout_ms;        /* wait for the first message (200) */
    int64_t wait_ms;             /* start: wait for bus and stores (60000) */
    struct fxp_retryq_cfg retry; /* attempts and backoff per store */
    uint32_t breaker_threshold;  /* failures that open a breaker (5) */
    int64_t breaker_open_ms;     /* open before a probe (30000) */
    int64_t stop_deadline_ms;    /* finish the batch in hand (30000) */
    int64_t bus_ping_ms;         /* health: ping the bus this often (5000) */
    struct fxp_health *health;   /* checks and metrics go here; NULL: none */
    const char *source;          /* dead-letter entries' source ("bridge") */
    /* Log lines ("waiting for store 'x': ...", breaker changes, retries,
     * dead letters); ud is log_ud. NULL: silent. */
    void (*on_log)(void *ud, const char *msg);
    void *log_ud;
};

void fxp_bridge_cfg_default(struct fxp_bridge_cfg *c);

struct fxp_bridge_stats {
    uint64_t messages; /* fetched and handled (stored or dead-lettered) */
    uint64_t batches;  /* fetches that brought messages */
    uint64_t commits;  /* successful commits */
    uint64_t bars;     /* bars in the batches handled */
    uint64_t ticks, rejects;
    uint64_t retries;       /* store writes tried again */
    uint64_t dead_lettered; /* dead-letter entries written */
    uint64_t undecodable;   /* messages whose payload did not decode */
    uint64_t uncommitted;   /* messages in hand when the stop deadline
                               passed: the bus delivers them again */
    double elapsed_s;       /* from fxp_bridge_run's start to its end */
};

/* Check c and prepare a bridge (no connection yet). Errors: FXP_EINVAL
 * (no bus URL, no store, a store named twice, an optional store without
 * a dead-letter file, a bad retry setting) or FXP_ENOMEM, with the
 * reason in errbuf. With c->health, registers the dependencies "bus" and
 * one per store (their cached status) and the fxpipe_bridge_* metrics:
 * then stop the health server before fxp_bridge_free. Strings in c are
 * copied. */
int fxp_bridge_new(const struct fxp_bridge_cfg *c, struct fxp_bridge **out,
                   char *errbuf, size_t errlen);

/* Run until *stop becomes non-zero (stop may be NULL: run until an
 * error). Waits up to wait_ms for the bus and every store, subscribes,
 * then fetches, stores and commits; on a stop finishes the batch in hand
 * within stop_deadline_ms (past it, nothing more is committed), then
 * closes the bus and the stores. Returns FXP_OK after a stop, FXP_EINVAL
 * (a bad URL), FXP_EUNAVAIL (a dependency not there in time) or FXP_EIO
 * (the dead-letter file cannot be written; nothing more is committed),
 * with the reason in errbuf. Call once. */
int fxp_bridge_run(struct fxp_bridge *br, const volatile sig_atomic_t *stop,
                   char *errbuf, size_t errlen);

/* The counts so far (safe from another thread). */
void fxp_bridge_stats_get(struct fxp_bridge *br, struct fxp_bridge_stats *s);

/* A URL with its password replaced by "***", for logs and labels. */
void fxp_bridge_redact_url(const char *url, char *out, size_t len);

/* Free; NULL is a no-op. Stop the health server given in the
 * configuration first. */
void fxp_bridge_free(struct fxp_bridge *br);

#endif
