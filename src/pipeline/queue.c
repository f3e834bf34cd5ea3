/* queue.c - bounded blocking pointer queue (ring buffer, one mutex, two
 * condition variables on CLOCK_MONOTONIC). */
#include "fxpipe/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "fxpipe/err.h"

struct fxp_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    void **items;
    size_t cap, head, n, max_n;
    bool closed;
};

struct fxp_queue *fxp_queue_new(size_t cap)
{
    if (cap == 0)
        return NULL;
    struct fxp_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->items = calloc(cap, sizeof *q->items);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!q->items || pthread_mutex_init(&q->mu, NULL) ||
        pthread_cond_init(&q->not_full, &ca) ||
        pthread_cond_init(&q->not_empty, &ca)) {
        pthread_condattr_destroy(&ca);
        free(q->items);
        free(q);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    q->cap = cap;
    return q;
}

void fxp_queue_free(struct fxp_queue *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->mu);
    free(q->items);
    free(q);
}

static void deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Wait on cv until pred() holds; false on timeout. */
static bool wait_for(struct fxp_queue *q, pthread_cond_t *cv, bool want_room,
                     int timeout_ms)
{
    struct timespec ts;
    if (timeout_ms >= 0)
        deadline(&ts, timeout_ms);
    while (!q->closed && (want_room ? q->n == q->cap : q->n == 0)) {
        if (timeout_ms < 0) {
            pthread_cond_wait(cv, &q->mu);
        } else if (pthread_cond_timedwait(cv, &q->mu, &ts) == ETIMEDOUT) {
            return !(want_room ? q->n == q->cap : q->n == 0) || q->closed;
        }
    }
    return true;
}

int fxp_queue_push(struct fxp_queue *q, void *item, int timeout_ms)
{
    pthread_mutex_lock(&q->mu);
    bool ok = wait_for(q, &q->not_full, true, timeout_ms);
    int rc = FXP_OK;
    if (q->closed) {
        rc = FXP_ECLOSED;
    } else if (!ok) {
        rc = FXP_EAGAIN;
    } else {
        q->items[(q->head + q->n) % q->cap] = item;
        q->n++;
        if (q->n > q->max_n)
            q->max_n = q->n;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int fxp_queue_pop(struct fxp_queue *q, void **item, int timeout_ms)
{
    pthread_mutex_lock(&q->mu);
    bool ok = wait_for(q, &q->not_empty, false, timeout_ms);
    int rc = FXP_OK;
    if (q->n > 0) {
        *item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        pthread_cond_signal(&q->not_full);
    } else {
        rc = q->closed ? FXP_ECLOSED : FXP_EAGAIN;
    }
    (void)ok;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void fxp_queue_close(struct fxp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_full);
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

size_t fxp_queue_depth(struct fxp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t fxp_queue_max_depth(struct fxp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->max_n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t fxp_queue_cap(const struct fxp_queue *q)
{
    return q->cap;
}
