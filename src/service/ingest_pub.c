/*
 * ingest_pub.c - the ingest service's publisher thread: journal -> the
 * bus's TICKS stream.
 *
 * Design notes
 *  1. It follows the journal from the last published sequence + 1 with
 *     one iterator (which keeps following the file as it grows), taking
 *     only records the intake declared durable.
 *  2. Records are read in chunks that never cross a window of msg_ticks
 *     sequence numbers (window = seq / msg_ticks); a chunk becomes one
 *     message per symbol: its ticks in journal order with tick_pos = the
 *     journal sequence, key = the symbol, message id
 *     "<symbol>:<first seq>-<last seq>", correlation id "<id>:<window>".
 *     A republish after a restart starts where the state says, at the
 *     same place as the unconfirmed first send, so the ids repeat and the
 *     bus drops the copies; where they do not (a chunk that was cut
 *     short by the end of the journal), the consumer drops positions it
 *     has seen.
 *  3. Up to group_windows chunks form a group: publish every message,
 *     flush, and only after a successful flush write the state
 *     (published.state: written to a temporary file, fsynced, renamed)
 *     and move on. A failed publish or flush sends the whole group again
 *     (the ids make that harmless) after a back-off, behind the breaker;
 *     no new records are read meanwhile, so memory stays bounded and the
 *     journal is the spool.
 *  4. When the breaker opens the bus handle is closed; the probe opens a
 *     new one, so a bus that was away for long is found again whatever
 *     the client library's own reconnecting gave up on. With nothing to
 *     publish, the bus is opened or pinged every PING_MS through the
 *     breaker, so the health check's status stays current.
 *  5. It ends when the intake is done and everything journaled is
 *     published, or once a stop request's deadline has passed (what is
 *     left stays in the journal).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/breaker.h"
#include "fxpipe/bus.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/journal.h"
#include "fxpipe/store.h"
#include "fxpipe/tickrec.h"
#include "service/ingest_int.h"

#define WAIT_MS 20   /* poll period when there is nothing to do */
#define PING_MS 5000 /* bus check period when idle */

struct msg {
    char key[FXP_SYMBOL_MAX];
    char id[64];
    char corr[48];
    void *payload;
    size_t len;
};

struct pub {
    struct fxp_ingest *g;
    struct fxp_bus *bus;
    struct fxp_symtab *st; /* the publisher's own (names from records) */
    struct fxp_journal_iter *it;
    uint64_t read_seq; /* last sequence read */
    /* One chunk (note 2). */
    struct fxp_tick *ticks, *tmp;
    uint64_t *seqs, *tmp_pos;
    uint64_t *idx; /* sort keys (cmp_u64) */
    size_t n;
    /* The group being sent (note 3). */
    struct msg *msgs;
    size_t n_msgs, cap_msgs;
    uint64_t group_last, group_ticks;
    uint32_t group_windows;
    bool sent_once;
    uint32_t fails; /* consecutive failures */
    int64_t next_try, next_ping;
    bool state_warned;
};

static void free_group(struct pub *pb)
{
    for (size_t i = 0; i < pb->n_msgs; i++)
        free(pb->msgs[i].payload);
    pb->n_msgs = 0;
    pb->group_last = pb->group_ticks = 0;
    pb->group_windows = 0;
    pb->sent_once = false;
}

/* Sort keys: symbol id in the high half, chunk index in the low half, so
 * each symbol's ticks come together and stay in journal order. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : (x > y);
}

static struct msg *add_msg(struct pub *pb)
{
    if (pb->n_msgs == pb->cap_msgs) {
        size_t cap = pb->cap_msgs ? pb->cap_msgs * 2 : 64;
        struct msg *m = realloc(pb->msgs, cap * sizeof *m);
        if (!m)
            return NULL;
        pb->msgs = m;
        pb->cap_msgs = cap;
    }
    return &pb->msgs[pb->n_msgs++];
}

/* The chunk into one message per symbol (note 2). */
static int encode_chunk(struct pub *pb, uint64_t window)
{
    struct fxp_ingest *g = pb->g;
    for (size_t i = 0; i < pb->n; i++)
        pb->idx[i] = (uint64_t)pb->ticks[i].sym << 32 | i;
    qsort(pb->idx, pb->n, sizeof *pb->idx, cmp_u64);
    for (size_t a = 0; a < pb->n;) {
        uint32_t sym = (uint32_t)(pb->idx[a] >> 32);
        size_t k = 0;
        for (; a + k < pb->n && (uint32_t)(pb->idx[a + k] >> 32) == sym; k++) {
            uint32_t i = (uint32_t)pb->idx[a + k];
            pb->tmp[k] = pb->ticks[i];
            pb->tmp_pos[k] = pb->seqs[i];
        }
        a += k;
        struct fxp_store_batch sb = {.ticks = pb->tmp,
                                     .n_ticks = k,
                                     .tick_pos = pb->tmp_pos,
                                     .symtab = pb->st};
        struct msg *m = add_msg(pb);
        if (!m)
            return FXP_ENOMEM;
        m->payload = NULL;
        int rc = fxp_batch_encode(&sb, &m->payload, &m->len);
        if (rc != FXP_OK) {
            pb->n_msgs--;
            return rc;
        }
        const char *name = fxp_symtab_name(pb->st, sym);
        snprintf(m->key, sizeof m->key, "%s", name ? name : "");
        snprintf(m->id, sizeof m->id, "%s:%" PRIu64 "-%" PRIu64, m->key,
                 pb->tmp_pos[0], pb->tmp_pos[k - 1]);
        snprintf(m->corr, sizeof m->corr, "%s:%" PRIu64, g->id, window);
    }
    return FXP_OK;
}

/* Read the next chunk of durable records into the group. Returns 1 when
 * one was added, 0 when there is nothing durable to read, or an error. */
static int read_chunk(struct pub *pb)
{
    struct fxp_ingest *g = pb->g;
    uint64_t durable = atomic_load(&g->durable);
    if (pb->read_seq >= durable)
        return 0;
    uint64_t w = (pb->read_seq + 1) / g->cfg.msg_ticks;
    uint64_t last = (w + 1) * g->cfg.msg_ticks - 1;
    if (last > durable)
        last = durable;
    char err[512];
    pb->n = 0;
    while (pb->read_seq < last) {
        uint64_t seq;
        const void *data;
        uint32_t len;
        int rc =
            fxp_journal_iter_next(pb->it, &seq, &data, &len, err, sizeof err);
        if (rc == FXP_ECLOSED)
            break; /* not visible yet: the next round */
        if (rc == FXP_OK && seq != pb->read_seq + 1) {
            snprintf(err, sizeof err,
                     "journal '%s': record %" PRIu64 " follows %" PRIu64
                     " (a segment is missing)",
                     g->cfg.journal_dir, seq, pb->read_seq);
            rc = FXP_EPARSE;
        }
        if (rc == FXP_OK &&
            fxp_tickrec_decode(pb->st, data, len, &pb->ticks[pb->n],
                               &(uint64_t){0}) != FXP_OK) {
            snprintf(err, sizeof err,
                     "journal record %" PRIu64 " in '%s' is not a tick of "
                     "this fxpipe's format",
                     seq, g->cfg.journal_dir);
            rc = FXP_EPARSE;
        }
        if (rc != FXP_OK) {
            fxp__ing_fail(g, rc, true, "%s", err);
            return rc;
        }
        pb->seqs[pb->n++] = seq;
        pb->read_seq = seq;
    }
    if (!pb->n)
        return 0;
    int rc = encode_chunk(pb, w);
    if (rc != FXP_OK) {
        fxp__ing_fail(g, rc, true, "cannot encode a message: %s",
                      fxp_strerror(rc));
        return rc;
    }
    pb->group_last = pb->read_seq;
    pb->group_ticks += pb->n;
    pb->group_windows++;
    return 1;
}

/* published.state, atomically (note 3). */
static int write_state(struct fxp_ingest *g, uint64_t seq)
{
    char path[1100], tmp[1110], text[32];
    snprintf(path, sizeof path, "%s/%s", g->cfg.journal_dir, ING_STATE_FILE);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return FXP_EIO;
    int ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        return FXP_EIO;
    int dfd = open(g->cfg.journal_dir, O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return FXP_OK;
}

static void close_bus(struct pub *pb)
{
    fxp_bus_close(pb->bus);
    pb->bus = NULL;
}

/* Open the bus unless open, within timeout_ms. */
static int open_bus(struct pub *pb, int timeout_ms, char *err, size_t errlen)
{
    if (pb->bus)
        return FXP_OK;
    struct fxp_bus_opts o = pb->g->cfg.bus;
    if (o.connect_timeout_ms > timeout_ms)
        o.connect_timeout_ms = timeout_ms;
    return fxp_bus_open(pb->g->cfg.bus_url, &o, &pb->bus, err, errlen);
}

/* One attempt: open if needed, publish the group, flush. */
static int attempt(struct pub *pb, int timeout_ms, char *err, size_t errlen)
{
    struct fxp_ingest *g = pb->g;
    int rc = open_bus(pb, timeout_ms, err, errlen);
    if (rc != FXP_OK)
        return rc;
    size_t i = 0;
    for (; i < pb->n_msgs && rc == FXP_OK; i++) {
        const struct msg *m = &pb->msgs[i];
        rc = fxp_bus_publish(pb->bus, FXP_BUS_TICKS, m->key, m->payload, m->len,
                             m->id, m->corr);
    }
    atomic_fetch_add(pb->sent_once ? &g->n_resent : &g->n_messages, i);
    pb->sent_once = true;
    if (rc == FXP_OK)
        rc = fxp_bus_flush(pb->bus, timeout_ms);
    if (rc != FXP_OK)
        snprintf(err, errlen, "%s", fxp_bus_errmsg(pb->bus));
    return rc;
}

static void sent(struct pub *pb)
{
    struct fxp_ingest *g = pb->g;
    if (pb->fails)
        fxp__ing_event(
            g, "bus: publishing again after %" PRIu32 " failed attempts",
            pb->fails);
    pb->fails = 0;
    if (write_state(g, pb->group_last) != FXP_OK) {
        if (!pb->state_warned)
            fxp__ing_event(g,
                           "warning: cannot write '%s/%s'; a restart "
                           "publishes again from the last state written",
                           g->cfg.journal_dir, ING_STATE_FILE);
        pb->state_warned = true;
    } else {
        pb->state_warned = false;
    }
    atomic_store(&g->published, pb->group_last);
    atomic_fetch_add(&g->n_published, pb->group_ticks);
    fxp_counter_add(g->m_published, pb->group_ticks);
    fxp__ing_bus_status(g, true, "%s: published through journal seq %" PRIu64,
                        fxp_bus_backend(pb->bus), pb->group_last);
    free_group(pb);
}

/* A failed call to the bus: the breaker, a back-off, the status; the
 * handle is closed when the breaker opens (note 4). Returns FXP_OK, or
 * the error when it can never work (a bad url). */
static int failed(struct pub *pb, int rc, const char *err)
{
    struct fxp_ingest *g = pb->g;
    if (rc == FXP_EINVAL && !pb->bus) {
        fxp_breaker_success(g->br, fxp__ing_now_ms());
        fxp__ing_fail(g, rc, true, "%s", err);
        return rc;
    }
    atomic_fetch_add(&g->n_flush_fail, 1);
    fxp_breaker_failure(g->br, fxp__ing_now_ms());
    if (pb->fails++ == 0)
        fxp__ing_event(g,
                       "warning: bus unavailable: %s (retrying; the "
                       "journal keeps every tick meanwhile)",
                       err);
    fxp__ing_bus_status(g, false, "%s", err);
    uint32_t shift = pb->fails < 5 ? pb->fails : 5;
    pb->next_try = fxp__ing_now_ms() + (100LL << shift); /* 0.2 .. 3.2 s */
    if (fxp_breaker_state_get(g->br) == FXP_BREAKER_OPEN)
        close_bus(pb);
    return FXP_OK;
}

/* Send the group when the breaker and the back-off allow (note 3).
 * Returns FXP_OK, or an error that ends the service. */
static int send_group(struct pub *pb)
{
    struct fxp_ingest *g = pb->g;
    int64_t now = fxp__ing_now_ms();
    if (now < pb->next_try || !fxp_breaker_allow(g->br, now))
        return FXP_OK;
    int timeout = g->cfg.flush_timeout_ms;
    if (atomic_load(&g->stopping)) {
        int64_t left = atomic_load(&g->stop_at) - now;
        if (left < timeout)
            timeout = left > 1 ? (int)left : 1;
    }
    char err[600] = "";
    int rc = attempt(pb, timeout, err, sizeof err);
    if (rc == FXP_OK) {
        fxp_breaker_success(g->br, fxp__ing_now_ms());
        sent(pb);
        return FXP_OK;
    }
    return failed(pb, rc, err);
}

/* With nothing to publish, keep the bus status fresh for /readyz (and
 * find a bus that is away before there is a backlog): open the bus, or
 * ping it, every PING_MS, through the breaker. */
static int idle_check(struct pub *pb)
{
    struct fxp_ingest *g = pb->g;
    int64_t now = fxp__ing_now_ms();
    if (atomic_load(&g->stopping) || now < pb->next_ping || now < pb->next_try)
        return FXP_OK;
    pb->next_ping = now + PING_MS;
    if (!fxp_breaker_allow(g->br, now))
        return FXP_OK;
    char err[600] = "";
    bool opened = !pb->bus;
    int rc = open_bus(pb, g->cfg.flush_timeout_ms, err, sizeof err);
    if (rc == FXP_OK && !opened) {
        rc = fxp_bus_ping(pb->bus, g->cfg.flush_timeout_ms);
        if (rc != FXP_OK)
            snprintf(err, sizeof err, "%s", fxp_bus_errmsg(pb->bus));
    }
    if (rc != FXP_OK)
        return failed(pb, rc, err);
    fxp_breaker_success(g->br, fxp__ing_now_ms());
    if (pb->fails)
        fxp__ing_event(g,
                       "bus: reachable again after %" PRIu32 " failed attempts",
                       pb->fails);
    pb->fails = 0;
    fxp__ing_bus_status(g, true,
                        "%s: idle, published through journal seq %" PRIu64,
                        fxp_bus_backend(pb->bus), atomic_load(&g->published));
    return FXP_OK;
}

/* Wait for news (records, a stop) for at most WAIT_MS. */
static void wait_news(struct fxp_ingest *g)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += WAIT_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g->mu);
    pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    pthread_mutex_unlock(&g->mu);
}

static bool drained(const struct pub *pb)
{
    struct fxp_ingest *g = pb->g;
    return atomic_load(&g->intake_done) && !pb->n_msgs &&
           pb->read_seq >= atomic_load(&g->head);
}

static void run(struct pub *pb)
{
    struct fxp_ingest *g = pb->g;
    for (;;) {
        if (atomic_load(&g->stopping) &&
            fxp__ing_now_ms() >= atomic_load(&g->stop_at))
            return; /* note 5 */
        int rc = 1; /* a group not yet sent may still grow */
        while (!pb->sent_once && rc == 1 &&
               pb->group_windows < g->cfg.group_windows)
            rc = read_chunk(pb);
        if (rc < 0)
            return;
        if (pb->n_msgs) {
            if (send_group(pb) != FXP_OK)
                return;
            if (pb->n_msgs)
                wait_news(g);
            continue;
        }
        if (drained(pb) || idle_check(pb) != FXP_OK)
            return;
        wait_news(g);
    }
}

void *fxp__ing_publisher(void *arg)
{
    struct fxp_ingest *g = arg;
    struct pub pb = {.g = g};
    size_t w = g->cfg.msg_ticks;
    pb.read_seq = atomic_load(&g->published);
    pb.st = fxp_symtab_new(g->cfg.max_symbols);
    pb.ticks = malloc(w * sizeof *pb.ticks);
    pb.tmp = malloc(w * sizeof *pb.tmp);
    pb.seqs = malloc(w * sizeof *pb.seqs);
    pb.tmp_pos = malloc(w * sizeof *pb.tmp_pos);
    pb.idx = malloc(w * sizeof *pb.idx);
    char err[512];
    if (!pb.st || !pb.ticks || !pb.tmp || !pb.seqs || !pb.tmp_pos || !pb.idx) {
        fxp__ing_fail(g, FXP_ENOMEM, true, "out of memory");
    } else if (fxp_journal_iter_open(g->cfg.journal_dir, pb.read_seq + 1, NULL,
                                     &pb.it, err, sizeof err) != FXP_OK) {
        fxp__ing_fail(g, FXP_EIO, true, "%s", err);
    } else {
        fxp__ing_bus_status(g, false, "not connected yet");
        run(&pb);
    }
    fxp_journal_iter_close(pb.it);
    free_group(&pb);
    free(pb.msgs);
    close_bus(&pb);
    fxp_symtab_free(pb.st);
    free(pb.ticks);
    free(pb.tmp);
    free(pb.seqs);
    free(pb.tmp_pos);
    free(pb.idx);
    atomic_store(&g->pub_done, 1);
    return NULL;
}
