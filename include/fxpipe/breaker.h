/*
 * breaker.h - a circuit breaker per dependency (a store, a bus).
 *
 *   CLOSED --threshold consecutive failures--> OPEN
 *   OPEN --open_ms elapsed, next allow()--> HALF_OPEN (one probe)
 *   HALF_OPEN --probe succeeds--> CLOSED;  --probe fails--> OPEN
 *
 * Time is passed in (now_ms) so tests drive it. Thread-safe.
 */
#ifndef FXPIPE_BREAKER_H
#define FXPIPE_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum fxp_breaker_state {
    FXP_BREAKER_CLOSED = 0,
    FXP_BREAKER_OPEN = 1,
    FXP_BREAKER_HALF_OPEN = 2
} fxp_breaker_state;

const char *fxp_breaker_state_name(fxp_breaker_state s); /* "closed"... */

struct fxp_breaker_cfg {
    const char *name;   /* dependency, for logs ("store") */
    uint32_t threshold; /* consecutive failures that open it (5) */
    int64_t open_ms;    /* time open before a probe (30000) */
    /* Called on every transition (outside the lock), in the order the
     * transitions happened, by one thread at a time - not necessarily the
     * thread that caused it; may be NULL. */
    void (*on_change)(void *ud, const char *name, fxp_breaker_state from,
                      fxp_breaker_state to);
    void *ud;
};

void fxp_breaker_cfg_default(struct fxp_breaker_cfg *c, const char *name);

struct fxp_breaker;

/* A new breaker, CLOSED; copies c (threshold 0 is taken as 1). NULL when
 * out of memory. */
struct fxp_breaker *fxp_breaker_new(const struct fxp_breaker_cfg *c);
/* Free; NULL is a no-op. No other call may be in progress. */
void fxp_breaker_free(struct fxp_breaker *br);

/* May a call go to the dependency now? CLOSED: yes; OPEN: no, until open_ms
 * has passed, then it turns HALF_OPEN and allows exactly one probe;
 * HALF_OPEN: no while the probe is out. */
bool fxp_breaker_allow(struct fxp_breaker *br, int64_t now_ms);

/* Report the outcome of an allowed call (every allowed call must be
 * reported, or a probe stays out). A success in CLOSED resets the count of
 * consecutive failures; outcomes reported while OPEN are ignored. */
void fxp_breaker_success(struct fxp_breaker *br, int64_t now_ms);
void fxp_breaker_failure(struct fxp_breaker *br, int64_t now_ms);

fxp_breaker_state fxp_breaker_state_get(struct fxp_breaker *br);
uint64_t fxp_breaker_opens(struct fxp_breaker *br); /* times opened */

#endif
