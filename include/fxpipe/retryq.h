/*
 * retryq.h - the retry queue: work that failed waits here with
 * exponential backoff and jitter (by default 6 retries after waits of
 * 1, 2, 4, 8, 16, 32 s, so 7 attempts in all), higher priority first
 * (live before historical). Bounded: a
 * full queue refuses (FXP_ETOOLARGE) and the caller applies backpressure.
 * After the last attempt an item is handed back for the dead-letter
 * queue. Time is passed in. One thread at a time (the owner's).
 */
#ifndef FXPIPE_RETRYQ_H
#define FXPIPE_RETRYQ_H

#include <stddef.h>
#include <stdint.h>

struct fxp_retryq_cfg {
    size_t cap;       /* items held at most (64) */
    int max_attempts; /* attempts in all, the first included (7) */
    int64_t base_ms;  /* delay after the first failure (1000) */
    int64_t max_ms;   /* delay cap (32000) */
    double jitter;    /* +- this fraction of each delay (0.2) */
    uint64_t seed;    /* jitter PRNG seed (deterministic tests) */
};

void fxp_retryq_cfg_default(struct fxp_retryq_cfg *c);

struct fxp_retryq;

/* A new queue (copies c). NULL when out of memory or c is invalid: cap 0,
 * max_attempts < 1, base_ms < 0, max_ms < base_ms, jitter not in [0, 1). */
struct fxp_retryq *fxp_retryq_new(const struct fxp_retryq_cfg *c);
/* Free the queue (not the payloads); NULL is a no-op. */
void fxp_retryq_free(struct fxp_retryq *q);

/* The delay before attempt number `attempt` + 1 after `attempt` failures
 * (attempt >= 1): min(max_ms, base_ms * 2^(attempt-1)) +- jitter. */
int64_t fxp_retryq_delay_ms(struct fxp_retryq *q, int attempt);

/* Queue payload after its `attempts`-th failure. Returns FXP_OK (due at
 * now + delay), FXP_ERANGE when attempts >= max_attempts (give it to the
 * DLQ; checked before fullness), FXP_ETOOLARGE when full, FXP_EINVAL when
 * attempts < 1. The queue borrows payload until it is popped. */
int fxp_retryq_push(struct fxp_retryq *q, void *payload, int priority,
                    int attempts, int64_t now_ms);

/* The highest-priority item due at now_ms (earliest due among equals):
 * FXP_OK with *payload and *attempts, or FXP_EAGAIN. */
int fxp_retryq_pop_due(struct fxp_retryq *q, int64_t now_ms, void **payload,
                       int *attempts);

/* Take any item regardless of due time (shutdown: hand everything to the
 * DLQ); FXP_EAGAIN when empty. */
int fxp_retryq_pop_any(struct fxp_retryq *q, void **payload, int *attempts);

size_t fxp_retryq_len(const struct fxp_retryq *q);
/* Earliest due time, INT64_MAX when empty. */
int64_t fxp_retryq_next_due(const struct fxp_retryq *q);

#endif
