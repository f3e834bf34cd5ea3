/*
 * breaker.c - the circuit breaker (breaker.h, docs/internals/breaker.md).
 *
 * Design notes
 *
 *                 threshold consecutive failures
 *      +--------+ ------------------------------> +------+
 *      | CLOSED |        (fxp_breaker_failure)    | OPEN | <--+
 *      +--------+                                  +------+    |
 *          ^                                          |        |
 *          | probe succeeds                           | open_ms elapsed,
 *          | (fxp_breaker_success)                    | next allow()
 *          |                                          v (fxp_breaker_allow)
 *          |                                    +-----------+  |
 *          +----------------------------------- | HALF_OPEN |--+
 *                                               +-----------+ probe fails
 *                                                     (fxp_breaker_failure,
 *                                                      fresh open_ms)
 *
 *  1. Every field is read and written with br->mu held; the lock is never
 *     held while on_change runs, so a callback may call back into the
 *     breaker (state_get, opens, even allow/success/failure).
 *  2. `failures` counts CONSECUTIVE failures in CLOSED: a success resets it
 *     to 0, reaching `threshold` opens the breaker. It is 0 in OPEN and
 *     HALF_OPEN.
 *  3. HALF_OPEN means exactly one probe is out: the allow() that performed
 *     OPEN -> HALF_OPEN returned true, every allow() after it returns false
 *     until the probe's outcome is reported. The caller must report the
 *     outcome of every allowed call, or the breaker stays HALF_OPEN.
 *  4. `opened_ms` is the time of the latest transition into OPEN; a failed
 *     probe sets it afresh, so the next probe waits a full open_ms again.
 *  5. An outcome reported while OPEN belongs to a call allowed before the
 *     breaker opened (a straggler); it is ignored, so it neither closes the
 *     breaker nor extends open_ms. In HALF_OPEN a straggler cannot be told
 *     from the probe (the API carries no token) and counts as the probe's
 *     outcome; with one caller at a time, as in the pipeline's store stage,
 *     there are no stragglers.
 *  6. Transitions are delivered to on_change in the order they happened,
 *     by one thread at a time: a transition is queued in ev[] under the
 *     lock; the thread that finds nobody delivering becomes the deliverer
 *     and drains the queue, calling on_change without the lock. Threads
 *     that queue while another delivers return at once; their transitions
 *     are delivered by the deliverer (so on_change may run on another
 *     thread than the one that caused the transition).
 *  7. Before it may transition, a thread other than the deliverer waits
 *     for room in ev[] (cond `room`), so nothing is dropped and the queue
 *     stays bounded. Only the deliverer itself, calling back from on_change
 *     more than EV_CAP transitions deep, cannot wait; those callbacks are
 *     skipped and counted in ev_lost (the state is still right).
 */
#include "fxpipe/breaker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EV_CAP 32

struct fxp_breaker {
    pthread_mutex_t mu;
    pthread_cond_t room; /* signalled when ev[] drains (note 7) */
    char name[64];
    uint32_t threshold;
    int64_t open_ms;
    void (*on_change)(void *ud, const char *name, fxp_breaker_state from,
                      fxp_breaker_state to);
    void *ud;

    fxp_breaker_state state;
    uint32_t failures; /* consecutive, in CLOSED (note 2) */
    int64_t opened_ms; /* last entry into OPEN (note 4) */
    uint64_t opens;

    /* Transitions not yet delivered, oldest at ev_head (note 6). */
    struct {
        fxp_breaker_state from, to;
    } ev[EV_CAP];
    unsigned ev_head, ev_len;
    int delivering;
    pthread_t deliverer;
    uint64_t ev_lost;
};

const char *fxp_breaker_state_name(fxp_breaker_state s)
{
    switch (s) {
    case FXP_BREAKER_CLOSED:
        return "closed";
    case FXP_BREAKER_OPEN:
        return "open";
    case FXP_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

void fxp_breaker_cfg_default(struct fxp_breaker_cfg *c, const char *name)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->threshold = 5;
    c->open_ms = 30000;
}

struct fxp_breaker *fxp_breaker_new(const struct fxp_breaker_cfg *c)
{
    struct fxp_breaker *br = calloc(1, sizeof *br);

    if (!br)
        return NULL;
    if (pthread_mutex_init(&br->mu, NULL)) {
        free(br);
        return NULL;
    }
    if (pthread_cond_init(&br->room, NULL)) {
        pthread_mutex_destroy(&br->mu);
        free(br);
        return NULL;
    }
    /* Copy the name: the configuration is the caller's. */
    const char *name = c->name && c->name[0] ? c->name : "breaker";
    size_t len = strlen(name);
    if (len >= sizeof br->name)
        len = sizeof br->name - 1;
    memcpy(br->name, name, len);
    br->name[len] = '\0';
    br->threshold = c->threshold ? c->threshold : 1;
    br->open_ms = c->open_ms > 0 ? c->open_ms : 0;
    br->on_change = c->on_change;
    br->ud = c->ud;
    br->state = FXP_BREAKER_CLOSED;
    return br;
}

void fxp_breaker_free(struct fxp_breaker *br)
{
    if (!br)
        return;
    pthread_cond_destroy(&br->room);
    pthread_mutex_destroy(&br->mu);
    free(br);
}

static int is_deliverer(const struct fxp_breaker *br)
{
    return br->delivering && pthread_equal(br->deliverer, pthread_self());
}

/* Lock, and wait until a transition could be queued (note 7). */
static void lock_for_change(struct fxp_breaker *br)
{
    pthread_mutex_lock(&br->mu);
    while (br->on_change && br->ev_len == EV_CAP && !is_deliverer(br))
        pthread_cond_wait(&br->room, &br->mu);
}

/* Change state and queue the transition for on_change; mu held. */
static void transition(struct fxp_breaker *br, fxp_breaker_state to)
{
    fxp_breaker_state from = br->state;

    br->state = to;
    if (to == FXP_BREAKER_OPEN)
        br->opens++;
    if (!br->on_change)
        return;
    if (br->ev_len == EV_CAP) {
        br->ev_lost++; /* only the deliverer gets here (note 7) */
        return;
    }
    unsigned i = (br->ev_head + br->ev_len) % EV_CAP;
    br->ev[i].from = from;
    br->ev[i].to = to;
    br->ev_len++;
}

/* Deliver queued transitions unless another thread is doing so, then
 * unlock (note 6). Called with mu held; returns with it released. */
static void unlock_and_deliver(struct fxp_breaker *br)
{
    if (!br->on_change || br->delivering || br->ev_len == 0) {
        pthread_mutex_unlock(&br->mu);
        return;
    }
    br->delivering = 1;
    br->deliverer = pthread_self();
    while (br->ev_len) {
        fxp_breaker_state from = br->ev[br->ev_head].from;
        fxp_breaker_state to = br->ev[br->ev_head].to;

        br->ev_head = (br->ev_head + 1) % EV_CAP;
        br->ev_len--;
        pthread_cond_broadcast(&br->room);
        pthread_mutex_unlock(&br->mu);
        br->on_change(br->ud, br->name, from, to);
        pthread_mutex_lock(&br->mu);
    }
    br->delivering = 0;
    pthread_mutex_unlock(&br->mu);
}

bool fxp_breaker_allow(struct fxp_breaker *br, int64_t now_ms)
{
    bool ok = false;

    lock_for_change(br);
    switch (br->state) {
    case FXP_BREAKER_CLOSED:
        ok = true;
        break;
    case FXP_BREAKER_OPEN:
        /* Note 3: this call is the probe. */
        if (now_ms - br->opened_ms >= br->open_ms) {
            transition(br, FXP_BREAKER_HALF_OPEN);
            ok = true;
        }
        break;
    case FXP_BREAKER_HALF_OPEN:
        break; /* the probe is out */
    }
    unlock_and_deliver(br);
    return ok;
}

void fxp_breaker_success(struct fxp_breaker *br, int64_t now_ms)
{
    (void)now_ms;
    lock_for_change(br);
    switch (br->state) {
    case FXP_BREAKER_CLOSED:
        br->failures = 0;
        break;
    case FXP_BREAKER_HALF_OPEN:
        br->failures = 0;
        transition(br, FXP_BREAKER_CLOSED);
        break;
    case FXP_BREAKER_OPEN:
        break; /* a straggler (note 5) */
    }
    unlock_and_deliver(br);
}

void fxp_breaker_failure(struct fxp_breaker *br, int64_t now_ms)
{
    lock_for_change(br);
    switch (br->state) {
    case FXP_BREAKER_CLOSED:
        if (++br->failures >= br->threshold) {
            br->failures = 0;
            br->opened_ms = now_ms;
            transition(br, FXP_BREAKER_OPEN);
        }
        break;
    case FXP_BREAKER_HALF_OPEN:
        br->opened_ms = now_ms; /* note 4 */
        transition(br, FXP_BREAKER_OPEN);
        break;
    case FXP_BREAKER_OPEN:
        break; /* a straggler (note 5) */
    }
    unlock_and_deliver(br);
}

fxp_breaker_state fxp_breaker_state_get(struct fxp_breaker *br)
{
    fxp_breaker_state s;

    pthread_mutex_lock(&br->mu);
    s = br->state;
    pthread_mutex_unlock(&br->mu);
    return s;
}

uint64_t fxp_breaker_opens(struct fxp_breaker *br)
{
    uint64_t n;

    pthread_mutex_lock(&br->mu);
    n = br->opens;
    pthread_mutex_unlock(&br->mu);
    return n;
}
