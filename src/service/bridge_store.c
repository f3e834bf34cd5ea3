/*
 * bridge_store.c - the batch in hand into every store: one breaker per
 * store, retries in order on the retry queue's backoff schedule, the
 * dead-letter file after the last attempt (bridge.h).
 *
 * Design notes:
 * 1. Each store has its own schedule: a store that took the batch is done
 *    with it while another is retried; nothing new is fetched until every
 *    store holds the batch or has it in the dead-letter file, so each
 *    store sees the batches in bus order.
 * 2. Outcomes, as in the pipeline's writer: FXP_EINVAL and other "bad
 *    data" codes go to the dead-letter file at once (reason
 *    rejected_by_store); timeouts, unavailability, I/O errors and a full
 *    disk are retried after 1, 2, 4 ... 32 s (+-jitter), and only while
 *    the store's breaker allows calls. After the last attempt the batch
 *    is dead-lettered (retries_exhausted); without a dead-letter file a
 *    required store is retried at the longest delay until it takes it
 *    (the bus keeps the messages), and bad data ends the run.
 * 3. While waiting, the bus is paused and polled about once a second so
 *    a Kafka consumer keeps its place in the group. A message the bus
 *    hands out anyway joins the batch in hand, which is then written
 *    again as a whole (bridge.c).
 * 4. A stop request gives the batch stop_deadline_ms; past it the caller
 *    closes without committing.
 * 5. A refusal as bad data of a merged batch of several messages is most
 *    likely one bad message: the store then gets the messages one by one
 *    (each retried in order as above), so only the bad ones go to the
 *    dead-letter file, each replayable on its own. A refusal tells the
 *    store is up: it counts as a success for the breaker.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/breaker.h"
#include "fxpipe/bus.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/retryq.h"
#include "fxpipe/store.h"
#include "service/bridge_int.h"

#define KEEPALIVE_MS 1000

static void on_breaker(void *ud, const char *name, fxp_breaker_state from,
                       fxp_breaker_state to)
{
    struct bstore *s = ud;
    fxp__bridge_log(s->owner, "circuit breaker of store '%s': %s -> %s", name,
                    fxp_breaker_state_name(from), fxp_breaker_state_name(to));
}

int fxp__bridge_store_setup(struct fxp_bridge *br, struct bstore *s)
{
    struct fxp_retryq_cfg rq = br->cfg.retry;
    rq.cap = 1;
    rq.seed += (uint64_t)(s - br->st) * 0x9e3779b97f4a7c15ULL;
    if (!(s->rq = fxp_retryq_new(&rq)))
        return FXP_EINVAL;
    struct fxp_breaker_cfg bc;
    fxp_breaker_cfg_default(&bc, s->label);
    bc.threshold = br->cfg.breaker_threshold;
    bc.open_ms = br->cfg.breaker_open_ms;
    bc.on_change = on_breaker;
    bc.ud = s;
    if (!(s->brk = fxp_breaker_new(&bc)))
        return FXP_ENOMEM;
    return FXP_OK;
}

void fxp__bridge_store_teardown(struct bstore *s)
{
    fxp_retryq_free(s->rq);
    fxp_breaker_free(s->brk);
    s->rq = NULL;
    s->brk = NULL;
}

/* Note 2: codes no retry can cure. */
static bool bad_data(int rc)
{
    return rc == FXP_EINVAL || rc == FXP_EPARSE || rc == FXP_ERANGE ||
           rc == FXP_EREJECT || rc == FXP_EEXIST || rc == FXP_ENOENT;
}

static int dead_letter(struct fxp_bridge *br, struct bstore *s,
                       const struct fxp_store_batch *b, const char *reason)
{
    void *buf = NULL;
    size_t len = 0;
    struct fxp_store_batch eb = *b;
    eb.meta_key = eb.meta_value = NULL;
    int rc = fxp_batch_encode(&eb, &buf, &len);
    if (rc != FXP_OK) {
        br->fatal = FXP_EIO;
        snprintf(br->fatal_msg, sizeof br->fatal_msg,
                 "cannot encode a batch for the dead-letter file (%s): %s",
                 s->last_err, fxp_strerror(rc));
        return FXP_EIO;
    }
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (size_t i = 0; i < b->n_bars; i++) {
        if (b->bars[i].ts_ms < first)
            first = b->bars[i].ts_ms;
        if (b->bars[i].ts_ms > last)
            last = b->bars[i].ts_ms;
    }
    if (first > last)
        first = last = 0;
    char source[500];
    snprintf(source, sizeof source, "%s -> %s", br->source, s->label);
    rc = fxp__bridge_dead_letter(
        br, "batch", reason, s->last_err, s->attempts, source, br->corr, buf,
        len, b->n_bars + b->n_ticks + b->n_rejects, first, last);
    free(buf);
    if (rc != FXP_OK)
        return rc;
    if (s->splitting)
        fxp__bridge_log(br,
                        "message %zu of %zu dead-lettered for store '%s' "
                        "after %d attempts (%s): %s; store it later with "
                        "'fxpipe dlq replay ID --dlq %s --store URL'",
                        s->split + 1, br->n_dec, s->label, s->attempts, reason,
                        s->last_err, br->dlq_path);
    else
        fxp__bridge_log(br,
                        "batch of %zu messages dead-lettered for store '%s' "
                        "after %d attempts (%s): %s; store it later with "
                        "'fxpipe dlq replay ID --dlq %s --store URL'",
                        br->n_msgs, s->label, s->attempts, reason, s->last_err,
                        br->dlq_path);
    return FXP_OK;
}

/* The part of the batch in hand store s is at: the merged batch, or one
 * message's batch while looking for a bad one (note 5). */
static const struct fxp_store_batch *part(struct fxp_bridge *br,
                                          struct bstore *s,
                                          const struct fxp_store_batch *merged,
                                          struct fxp_store_batch *one)
{
    if (!s->splitting)
        return merged;
    *one = *fxp_decoded_batch_view(br->dec[s->split]);
    one->meta_key = one->meta_value = NULL;
    return one;
}

/* The part was stored or dead-lettered: on to the next, or done. */
static void next_part(struct fxp_bridge *br, struct bstore *s)
{
    s->attempts = 0;
    s->next_at = 0;
    if (s->splitting && ++s->split < br->n_dec)
        return;
    s->pending = false;
}

/* One write to s and what follows from its outcome. FXP_OK, or FXP_EIO
 * when the run must end (br->fatal). */
static int attempt(struct fxp_bridge *br, struct bstore *s,
                   const struct fxp_store_batch *merged)
{
    struct fxp_store_batch one;
    const struct fxp_store_batch *b = part(br, s, merged, &one);
    int rc = fxp_store_write(s->s, b);
    int64_t now = fxp__bridge_now_ms();
    s->attempts++;
    if (rc == FXP_OK || bad_data(rc)) /* the store answered */
        fxp_breaker_success(s->brk, now);
    else
        fxp_breaker_failure(s->brk, now);
    if (rc == FXP_OK) {
        fxp_counter_add(s->c_bars, b->n_bars);
        fxp__bridge_dep_set(&s->dep, 1, "last write ok (%zu bars)", b->n_bars);
        if (s->attempts > 1)
            fxp__bridge_log(br, "store '%s' took the batch after %d attempts",
                            s->label, s->attempts);
        next_part(br, s);
        return FXP_OK;
    }
    const char *why = fxp_store_errmsg(s->s);
    snprintf(s->last_err, sizeof s->last_err, "%s",
             why && why[0] ? why : fxp_strerror(rc));
    fxp__bridge_dep_set(&s->dep, -1, "last write failed: %s", s->last_err);
    if (bad_data(rc) && !s->splitting && br->n_dec > 1) {
        fxp__bridge_log(br,
                        "store '%s' refused a batch of %zu messages (%s): "
                        "writing them one by one",
                        s->label, br->n_dec, s->last_err);
        s->splitting = true;
        s->split = 0;
        s->attempts = 0;
        s->next_at = 0;
        return FXP_OK;
    }
    if (bad_data(rc)) {
        if (!br->dlq_path) {
            br->fatal = FXP_EIO;
            snprintf(br->fatal_msg, sizeof br->fatal_msg,
                     "store '%s' refused a batch (%s) and there is no "
                     "dead-letter file; nothing was committed",
                     s->label, s->last_err);
            return FXP_EIO;
        }
        rc = dead_letter(br, s, b, "rejected_by_store");
        if (rc == FXP_OK)
            next_part(br, s);
        return rc;
    }
    int max = br->cfg.retry.max_attempts;
    if (s->attempts >= max && br->dlq_path) {
        rc = dead_letter(br, s, b, "retries_exhausted");
        if (rc == FXP_OK)
            next_part(br, s);
        return rc;
    }
    atomic_fetch_add(&br->n_retries, 1);
    fxp_counter_inc(br->c_retries);
    int64_t delay =
        fxp_retryq_delay_ms(s->rq, s->attempts < max ? s->attempts : max);
    s->next_at = now + delay;
    if (s->attempts == 1)
        fxp__bridge_log(br,
                        "store '%s' write failed, retrying with backoff: %s",
                        s->label, s->last_err);
    else
        fxp__bridge_log(br, "store '%s': attempt %d failed, next in %.1f s: %s",
                        s->label, s->attempts, (double)delay / 1000.0,
                        s->last_err);
    return FXP_OK;
}

/* Note 3. */
static void keepalive(struct fxp_bridge *br)
{
    int64_t now = fxp__bridge_now_ms();
    if (now - br->last_keepalive < KEEPALIVE_MS)
        return;
    br->last_keepalive = now;
    if (!br->paused) {
        if (fxp_bus_pause(br->bus, true) != FXP_OK)
            fxp__bridge_log(br, "cannot pause bus '%s': %s", br->bus_label,
                            fxp_bus_errmsg(br->bus));
        br->paused = true;
    }
    /* A paused Kafka consumer polls (serving its group) without handing
     * out messages, but a fetch of none returns without polling: ask for
     * one there. Elsewhere pausing does nothing: ask for none. */
    size_t n = 0, max = strcmp(fxp_bus_backend(br->bus), "kafka") ? 0 : 1;
    fxp_bus_fetch(br->bus, max, 0, fxp__bridge_on_msg, br, &n);
    br->n_msgs += n;
}

static void resume(struct fxp_bridge *br)
{
    if (!br->paused)
        return;
    br->paused = false;
    if (fxp_bus_pause(br->bus, false) != FXP_OK)
        fxp__bridge_log(br, "cannot resume bus '%s': %s", br->bus_label,
                        fxp_bus_errmsg(br->bus));
}

int fxp__bridge_deliver(struct fxp_bridge *br, const struct fxp_store_batch *b)
{
    for (size_t i = 0; i < br->n; i++) {
        struct bstore *s = &br->st[i];
        s->pending = true;
        s->splitting = false;
        s->split = 0;
        s->attempts = 0;
        s->next_at = 0;
        s->last_err[0] = '\0';
    }
    br->last_keepalive = fxp__bridge_now_ms();
    for (;;) {
        bool waiting = false;
        int64_t next = INT64_MAX;
        fxp__bridge_stopping(br);
        for (size_t i = 0; i < br->n; i++) {
            struct bstore *s = &br->st[i];
            if (!s->pending)
                continue;
            int64_t now = fxp__bridge_now_ms();
            if (s->next_at <= now && fxp_breaker_allow(s->brk, now)) {
                if (attempt(br, s, b) != FXP_OK) {
                    resume(br);
                    return FXP_EIO;
                }
            }
            if (s->pending) {
                waiting = true;
                if (s->next_at < next)
                    next = s->next_at;
            }
        }
        if (!waiting)
            break;
        int64_t now = fxp__bridge_now_ms();
        if (now >= br->stop_at) {
            resume(br);
            return FXP_ETIMEDOUT;
        }
        keepalive(br);
        if (br->fatal) {
            resume(br);
            return FXP_EIO;
        }
        /* Due, or held by an open breaker: look again soon. */
        int64_t nap = next > now ? next - now : 20;
        fxp__bridge_nap_ms(nap < 50 ? nap : 50);
    }
    resume(br);
    return FXP_OK;
}
