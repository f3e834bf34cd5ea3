/*
 * source_pace.c - pace a tick source like a live feed (fxp_source_pace in
 * source.h): feed time advances `speed` times faster than the wall clock.
 *
 * Design notes
 *
 *  1. The first tick read fixes the origin: feed time f0 = its ts, wall
 *     time w0 = CLOCK_MONOTONIC when it was read. A tick with ts is due at
 *     w0 + (ts - f0) / speed; ticks earlier than f0 (an unsorted file) are
 *     due at once. A consumer that falls behind gets the overdue ticks in
 *     one burst: the pacing never waits to "catch up" with itself.
 *  2. A read returns the ticks that are due, at most cap, and never waits
 *     once it has one: a live feed hands out what it has. Only when nothing
 *     is due does it sleep, in steps of at most SLEEP_STEP_NS, until the
 *     next tick is due.
 *  3. Ticks read from the inner source but not yet due wait in buf[] (at
 *     most BUF_TICKS, refilled only when empty), so the wrapper never
 *     returns a tick it did not read and holds a bounded amount.
 *  4. fxp_source_interrupt sets an atomic flag (lock-free, so safe in a
 *     signal handler). A read that finds it set while nothing is due
 *     clears it and returns 0 with *err = FXP_EAGAIN; the sleeping read
 *     sees it within one sleep step. A read that has due ticks returns
 *     them and leaves the flag for the next read, so an interrupt is never
 *     lost: it ends the current wait or the next one.
 *  5. An inner read error is reported after the ticks already due: the
 *     read that meets it returns what it has, and the next one returns 0
 *     with the error. The end of the inner source is the end of the paced
 *     one once the buffer is drained.
 *  6. Speed 0 means no pacing: fxp_source_pace hands back `inner` itself.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/err.h"
#include "source/source_int.h"

#define BUF_TICKS     256
#define SLEEP_STEP_NS (50 * 1000000LL)

struct pace {
    struct fxp_source *inner; /* owned */
    double ns_per_ms;         /* wall ns per feed ms: 1e6 / speed */
    atomic_int interrupted;   /* note 4 */
    bool started;             /* origin fixed (note 1) */
    int64_t f0_ms;            /* feed-time origin */
    int64_t w0_ns;            /* wall-time origin */
    bool eof;                 /* inner source ended */
    int pending_err;          /* inner error to report next (note 5) */
    size_t head, n;           /* buf[head..n) not yet returned */
    struct fxp_tick buf[BUF_TICKS];
    uint64_t pos[BUF_TICKS];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wall time at which a tick with ts is due (note 1). */
static int64_t due_ns(const struct pace *pc, int64_t ts)
{
    if (ts <= pc->f0_ms)
        return pc->w0_ns;
    double d = (double)(ts - pc->f0_ms) * pc->ns_per_ms;
    if (d > 1e18) /* ~30 years: never, in practice */
        d = 1e18;
    return pc->w0_ns + (int64_t)d;
}

/* Refill the empty buffer from the inner source; false at its end or on
 * an error (kept in pending_err). */
static bool refill(struct pace *pc)
{
    int err = FXP_OK;
    size_t k =
        fxp_source_read_ticks(pc->inner, pc->buf, pc->pos, BUF_TICKS, &err);
    pc->head = 0;
    pc->n = k;
    if (k == 0) {
        if (err == FXP_EAGAIN)
            return false; /* the inner source would block: not an end */
        if (err != FXP_OK)
            pc->pending_err = err;
        else
            pc->eof = true;
        return false;
    }
    if (!pc->started) {
        pc->started = true;
        pc->f0_ms = pc->buf[0].ts_ms;
        pc->w0_ns = now_ns();
    }
    return true;
}

static size_t pace_read(void *impl, struct fxp_tick *out, uint64_t *pos,
                        size_t cap, int *err)
{
    struct pace *pc = impl;
    size_t got = 0;
    *err = FXP_OK;
    for (;;) {
        if (pc->head == pc->n && !pc->eof && !pc->pending_err && !refill(pc) &&
            !pc->eof && !pc->pending_err) {
            /* The inner source would block: as if interrupted. */
            *err = got ? FXP_OK : FXP_EAGAIN;
            return got;
        }
        if (pc->head == pc->n) {
            /* The end, or an error to report after what is due. */
            if (!got && pc->pending_err) {
                *err = pc->pending_err;
                pc->pending_err = FXP_OK;
            }
            return got;
        }
        int64_t now = now_ns();
        while (got < cap && pc->head < pc->n &&
               due_ns(pc, pc->buf[pc->head].ts_ms) <= now) {
            out[got] = pc->buf[pc->head];
            if (pos)
                pos[got] = pc->pos[pc->head];
            got++;
            pc->head++;
        }
        if (got == cap || (got && pc->head < pc->n))
            return got; /* note 2: never wait once something is due */
        if (pc->head == pc->n)
            continue; /* all due: look at the next ones */
        /* Nothing due: wait for the next tick or an interrupt. */
        if (atomic_exchange(&pc->interrupted, 0)) {
            *err = FXP_EAGAIN;
            return 0;
        }
        int64_t wait = due_ns(pc, pc->buf[pc->head].ts_ms) - now;
        if (wait > SLEEP_STEP_NS)
            wait = SLEEP_STEP_NS;
        struct timespec d = {(time_t)(wait / 1000000000LL),
                             (long)(wait % 1000000000LL)};
        nanosleep(&d, NULL); /* EINTR: the loop looks again */
    }
}

static void pace_progress(const void *impl, uint64_t *done, uint64_t *total)
{
    const struct pace *pc = impl;
    fxp_source_progress(pc->inner, done, total);
}

static void pace_interrupt(void *impl)
{
    struct pace *pc = impl;
    atomic_store(&pc->interrupted, 1);
}

static void pace_close(void *impl)
{
    struct pace *pc = impl;
    if (!pc)
        return;
    fxp_source_close(pc->inner);
    free(pc);
}

/* Skipping happens in the inner source, before any pacing. */
static void pace_skip(void *impl, uint64_t pos)
{
    struct pace *pc = impl;
    fxp_source_skip_through(pc->inner, pos);
}

static const struct fxp_source_ops pace_ops = {
    .name = "paced",
    .read_ticks = pace_read,
    .read_bars = NULL,
    .progress = pace_progress,
    .interrupt = pace_interrupt,
    .close = pace_close,
    .skip = pace_skip,
};

/* Takes ownership of `inner` in every case: on failure it is closed (as
 * fxp__source_new does with its impl), so the caller never has to. Errors:
 * FXP_EINVAL (a bars source, or a speed that is negative or not finite),
 * FXP_ENOMEM. The paced source may be read by one thread while another
 * thread or a signal handler calls fxp_source_interrupt. */
int fxp_source_pace(struct fxp_source *inner, double speed,
                    struct fxp_source **out)
{
    *out = NULL;
    if (!inner)
        return FXP_EINVAL;
    if (fxp_source_kind(inner) != FXP_KIND_TICKS || !(speed >= 0) ||
        !isfinite(speed)) {
        fxp_source_close(inner);
        return FXP_EINVAL;
    }
    if (speed == 0) {
        *out = inner; /* note 6 */
        return FXP_OK;
    }
    struct pace *pc = calloc(1, sizeof *pc);
    if (!pc) {
        fxp_source_close(inner);
        return FXP_ENOMEM;
    }
    pc->inner = inner;
    pc->ns_per_ms = 1e6 / speed;
    atomic_init(&pc->interrupted, 0);

    char desc[256];
    snprintf(desc, sizeof desc, "%.200s paced x%g", fxp_source_describe(inner),
             speed);
    *out = fxp__source_new(&pace_ops, pc, desc); /* closes pc on failure */
    return *out ? FXP_OK : FXP_ENOMEM;
}
