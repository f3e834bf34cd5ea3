/*
 * queue.h - a bounded blocking queue of pointers joining two pipeline
 * stages. It never grows: a push into a full queue waits (that is how
 * backpressure reaches the producer) or fails with FXP_EAGAIN after its
 * timeout. Closing lets the consumer drain what is queued, then pop
 * reports FXP_ECLOSED. Any number of producer and consumer threads.
 */
#ifndef FXPIPE_QUEUE_H
#define FXPIPE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct fxp_queue;

/* A queue holding at most `cap` items; NULL on bad cap or no memory. */
struct fxp_queue *fxp_queue_new(size_t cap);

/* Free; the queue must no longer be used by any thread. NULL is a no-op. */
void fxp_queue_free(struct fxp_queue *q);

/* Append item, waiting up to timeout_ms (-1 = forever) for room. Returns
 * FXP_OK, FXP_EAGAIN (timed out, queue full) or FXP_ECLOSED. */
int fxp_queue_push(struct fxp_queue *q, void *item, int timeout_ms);

/* Take the oldest item, waiting up to timeout_ms (-1 = forever). Returns
 * FXP_OK, FXP_EAGAIN (timed out, queue empty) or FXP_ECLOSED (closed and
 * drained). */
int fxp_queue_pop(struct fxp_queue *q, void **item, int timeout_ms);

/* No more pushes; wakes every waiter. Idempotent. */
void fxp_queue_close(struct fxp_queue *q);

/* Current and highest depth so far. */
size_t fxp_queue_depth(struct fxp_queue *q);
size_t fxp_queue_max_depth(struct fxp_queue *q);
size_t fxp_queue_cap(const struct fxp_queue *q);

#endif
