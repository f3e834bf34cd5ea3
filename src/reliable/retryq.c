/*
 * retryq.c - the retry queue (retryq.h, docs/internals/retry-and-dlq.md).
 *
 * Design notes
 *
 *  1. Items live in one array of cap entries allocated at creation, kept
 *     sorted by due time ascending; among equal due times by insertion
 *     order (a push goes after every item due no later). The queue never grows:
 * a push into a full array is FXP_ETOOLARGE and the caller holds its work,
 * which is how the pipeline's backpressure reaches the source.
 *  2. Priority does not order the array, because a high-priority item that
 *     is not due yet must not hide a lower-priority one that is. The due
 *     items form a prefix of the array (note 1); pop_due scans that prefix
 *     for the highest priority, taking the first (= earliest due, then
 *     oldest) among equals. With cap in the tens, the scan and the memmove
 *     that closes the gap cost less than a heap's bookkeeping.
 *  3. delay(attempt) = min(max_ms, base_ms * 2^(attempt-1)), computed by
 *     doubling with the cap checked first so it never overflows, then
 *     scaled by (1 + jitter * u) with u uniform in [-1, 1) from a
 *     splitmix64 generator seeded by cfg.seed: the same seed gives the
 *     same schedule. Jitter spreads the retries of many failed batches so
 *     they do not hit a recovering store at the same instant.
 *  4. An item is refused with FXP_ERANGE once `attempts` reaches
 *     max_attempts (before fullness is checked): it has had every attempt
 *     and belongs in the dead-letter queue, full queue or not.
 *  5. The queue never looks at payloads; freeing them is the owner's job.
 */
#include "fxpipe/retryq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"

struct item {
    void *payload;
    int64_t due_ms;
    int priority;
    int attempts;
};

struct fxp_retryq {
    struct fxp_retryq_cfg cfg;
    uint64_t rng;   /* splitmix64 state */
    size_t n;       /* items held */
    struct item *a; /* cfg.cap entries, sorted (note 1) */
};

void fxp_retryq_cfg_default(struct fxp_retryq_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->cap = 64;
    c->max_attempts = 7; /* the first and 6 retries: 1, 2, ... 32 s */
    c->base_ms = 1000;
    c->max_ms = 32000;
    c->jitter = 0.2;
    c->seed = 0x6678706970650001ULL;
}

struct fxp_retryq *fxp_retryq_new(const struct fxp_retryq_cfg *c)
{
    struct fxp_retryq *q;

    if (c->cap == 0 || c->max_attempts < 1 || c->base_ms < 0 ||
        c->max_ms < c->base_ms || !(c->jitter >= 0.0 && c->jitter < 1.0))
        return NULL;
    q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->a = calloc(c->cap, sizeof *q->a);
    if (!q->a) {
        free(q);
        return NULL;
    }
    q->cfg = *c;
    q->rng = c->seed;
    return q;
}

void fxp_retryq_free(struct fxp_retryq *q)
{
    if (!q)
        return;
    free(q->a);
    free(q);
}

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit output per call. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int64_t fxp_retryq_delay_ms(struct fxp_retryq *q, int attempt)
{
    int64_t d = q->cfg.base_ms;

    /* Note 3: double until the cap, checking before each doubling. */
    for (int i = 1; i < attempt && d < q->cfg.max_ms; i++)
        d = d > q->cfg.max_ms / 2 ? q->cfg.max_ms : d * 2;
    if (d > q->cfg.max_ms)
        d = q->cfg.max_ms;
    if (q->cfg.jitter > 0.0 && d > 0) {
        /* u in [-1, 1) from the top 53 bits. */
        double u = (double)(splitmix64(&q->rng) >> 11) * 0x1.0p-52 - 1.0;
        double j = (double)d * (1.0 + q->cfg.jitter * u);
        d = (int64_t)llround(j);
        if (d < 0)
            d = 0;
    }
    return d;
}

int fxp_retryq_push(struct fxp_retryq *q, void *payload, int priority,
                    int attempts, int64_t now_ms)
{
    size_t i;

    if (attempts < 1)
        return FXP_EINVAL;
    if (attempts >= q->cfg.max_attempts)
        return FXP_ERANGE; /* note 4 */
    if (q->n == q->cfg.cap)
        return FXP_ETOOLARGE;

    int64_t delay = fxp_retryq_delay_ms(q, attempts);
    int64_t due = now_ms > INT64_MAX - delay ? INT64_MAX : now_ms + delay;

    /* After every item due no later, so equal due times stay FIFO. */
    i = q->n;
    while (i > 0 && q->a[i - 1].due_ms > due)
        i--;
    memmove(&q->a[i + 1], &q->a[i], (q->n - i) * sizeof *q->a);
    q->a[i].payload = payload;
    q->a[i].due_ms = due;
    q->a[i].priority = priority;
    q->a[i].attempts = attempts;
    q->n++;
    return FXP_OK;
}

/* Remove item i, handing out its payload and attempts. */
static void take(struct fxp_retryq *q, size_t i, void **payload, int *attempts)
{
    *payload = q->a[i].payload;
    *attempts = q->a[i].attempts;
    memmove(&q->a[i], &q->a[i + 1], (q->n - i - 1) * sizeof *q->a);
    q->n--;
}

int fxp_retryq_pop_due(struct fxp_retryq *q, int64_t now_ms, void **payload,
                       int *attempts)
{
    size_t best = q->n;

    /* Note 2: due items are a prefix; the first of the highest priority
     * is the earliest due among equals. */
    for (size_t i = 0; i < q->n && q->a[i].due_ms <= now_ms; i++)
        if (best == q->n || q->a[i].priority > q->a[best].priority)
            best = i;
    if (best == q->n)
        return FXP_EAGAIN;
    take(q, best, payload, attempts);
    return FXP_OK;
}

int fxp_retryq_pop_any(struct fxp_retryq *q, void **payload, int *attempts)
{
    if (q->n == 0)
        return FXP_EAGAIN;
    take(q, 0, payload, attempts);
    return FXP_OK;
}

size_t fxp_retryq_len(const struct fxp_retryq *q)
{
    return q->n;
}

int64_t fxp_retryq_next_due(const struct fxp_retryq *q)
{
    return q->n ? q->a[0].due_ms : INT64_MAX;
}
