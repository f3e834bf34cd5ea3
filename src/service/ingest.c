/*
 * ingest.c - the ingest service (ingest.h): set-up and tear-down, the two
 * threads (ingest_intake.c, ingest_pub.c) and the watch loop between
 * them: stop requests and their deadline, nudging a quiet paced source so
 * synced records reach the publisher, the backlog log lines, the health
 * check and gauges.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/breaker.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/journal.h"
#include "fxpipe/source.h"
#include "fxpipe/tickrec.h"
#include "service/ingest_int.h"

#define WATCH_MS 20

int64_t fxp__ing_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fxp__ing_event(struct fxp_ingest *g, const char *fmt, ...)
{
    if (!g->cfg.on_event)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g->ev_mu);
    g->cfg.on_event(g->cfg.event_ud, msg);
    pthread_mutex_unlock(&g->ev_mu);
}

void fxp__ing_wake(struct fxp_ingest *g)
{
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* A stop: intake ends, the publisher drains until the deadline. */
static void request_stop(struct fxp_ingest *g)
{
    atomic_store(&g->stop_intake, 1);
    if (!atomic_load(&g->stopping)) {
        atomic_store(&g->stop_at, fxp__ing_now_ms() + g->cfg.stop_deadline_ms);
        atomic_store(&g->stopping, 1);
    }
    fxp__ing_wake(g);
}

void fxp__ing_fail(struct fxp_ingest *g, int err, bool from_pub,
                   const char *fmt, ...)
{
    pthread_mutex_lock(&g->err_mu);
    if (!g->err) {
        g->err = err ? err : FXP_EIO;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->errbuf, sizeof g->errbuf, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&g->err_mu);
    atomic_store(&g->failed, 1);
    if (from_pub) {
        atomic_store(&g->stop_intake, 1);
        fxp__ing_wake(g);
    } else {
        request_stop(g);
    }
}

void fxp__ing_bus_status(struct fxp_ingest *g, bool ok, const char *fmt, ...)
{
    pthread_mutex_lock(&g->bus_mu);
    g->bus_ok = ok;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->bus_detail, sizeof g->bus_detail, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&g->bus_mu);
}

/* The health check of the bus: the publisher's last outcome (the bus
 * handle belongs to the publisher thread, so it is not pinged from here). */
static fxp_err bus_check(void *ud, int timeout_ms, char *detail, size_t len)
{
    (void)timeout_ms;
    struct fxp_ingest *g = ud;
    bool open = fxp_breaker_state_get(g->br) == FXP_BREAKER_OPEN;
    pthread_mutex_lock(&g->bus_mu);
    bool ok = g->bus_ok && !open;
    snprintf(detail, len, "%s%s", open ? "breaker open: " : "", g->bus_detail);
    pthread_mutex_unlock(&g->bus_mu);
    return ok ? FXP_OK : FXP_EUNAVAIL;
}

static void on_breaker(void *ud, const char *name, fxp_breaker_state from,
                       fxp_breaker_state to)
{
    fxp__ing_event(ud, "%s breaker: %s -> %s%s", name,
                   fxp_breaker_state_name(from), fxp_breaker_state_name(to),
                   to == FXP_BREAKER_OPEN
                       ? " (publishing paused; the journal spools the feed)"
                       : "");
}

static void on_journal_warn(void *ud, const char *msg)
{
    fxp__ing_event(ud, "warning: %s", msg);
}

void fxp_ingest_cfg_default(struct fxp_ingest_cfg *c)
{
    memset(c, 0, sizeof *c);
    fxp_bus_opts_default(&c->bus);
    c->bus.connect_timeout_ms = 5000;
    fxp_journal_opts_default(&c->jnl);
    c->id = "ingest";
    fxp_validate_cfg_default(&c->validate);
    c->max_symbols = 4096;
    c->batch_size = 4096;
    c->msg_ticks = 4096;
    c->group_windows = 8;
    c->breaker_threshold = 5;
    c->breaker_open_ms = 30000;
    c->flush_timeout_ms = 5000;
    c->stop_deadline_ms = 30000;
    c->backlog_warn = 10000;
    c->retain_every_ms = 10000;
}

static bool id_valid(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > FXP_INGEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static void register_health(struct fxp_ingest *g)
{
    struct fxp_health *h = g->cfg.health;
    if (!h)
        return;
    fxp_health_add_dep(h, "bus", true, bus_check, g);
    g->m_accepted = fxp_health_counter(h, "fxpipe_ingest_ticks_total",
                                       "Ticks judged by ingest, by result",
                                       "result=\"accepted\"");
    g->m_rejected = fxp_health_counter(h, "fxpipe_ingest_ticks_total",
                                       "Ticks judged by ingest, by result",
                                       "result=\"rejected\"");
    g->m_published = fxp_health_counter(
        h, "fxpipe_ingest_published_total",
        "Ticks published to the bus and confirmed by it", NULL);
    g->m_backlog =
        fxp_health_gauge(h, "fxpipe_ingest_backlog",
                         "Ticks journaled but not yet published", NULL);
    g->m_breaker = fxp_health_gauge(
        h, "fxpipe_ingest_breaker_state",
        "The bus circuit breaker: 0 closed, 1 open, 2 half-open", NULL);
}

/* The parts that need no journal. */
static int alloc_parts(struct fxp_ingest *g, char *errbuf, size_t errlen)
{
    struct fxp_breaker_cfg bc;
    fxp_breaker_cfg_default(&bc, "bus");
    bc.threshold = g->cfg.breaker_threshold;
    bc.open_ms = g->cfg.breaker_open_ms;
    bc.on_change = on_breaker;
    bc.ud = g;
    g->br = fxp_breaker_new(&bc);
    g->val = fxp_validator_new(&g->cfg.validate, g->cfg.max_symbols);
    g->buf = malloc(g->cfg.batch_size * sizeof *g->buf);
    g->pos = malloc(g->cfg.batch_size * sizeof *g->pos);
    g->jbuf = malloc((size_t)ING_JBATCH * FXP_TICKREC_MAX);
    if (!g->br || !g->val || !g->buf || !g->pos || !g->jbuf) {
        snprintf(errbuf, errlen, "out of memory");
        return FXP_ENOMEM;
    }
    return FXP_OK;
}

int fxp_ingest_new(const struct fxp_ingest_cfg *cfg, fxp_source_open_fn open_fn,
                   void *open_ud, struct fxp_symtab *st,
                   struct fxp_ingest **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    const char *id = cfg->id ? cfg->id : "ingest";
    if (!id_valid(id)) {
        snprintf(errbuf, errlen,
                 "bad ingest id '%s' (1 to %d of A-Z a-z 0-9 _ . -)", id,
                 FXP_INGEST_ID_MAX);
        return FXP_EINVAL;
    }
    if (!cfg->journal_dir || !cfg->journal_dir[0] || !cfg->bus_url ||
        !open_fn || !st || !cfg->msg_ticks || !cfg->batch_size ||
        !cfg->group_windows || !cfg->max_symbols) {
        snprintf(errbuf, errlen, "incomplete ingest configuration");
        return FXP_EINVAL;
    }
    struct fxp_ingest *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(errbuf, errlen, "out of memory");
        return FXP_ENOMEM;
    }
    g->cfg = *cfg;
    snprintf(g->id, sizeof g->id, "%s", id);
    g->cfg.id = g->id;
    g->open = open_fn;
    g->open_ud = open_ud;
    g->st = st;
    g->hours.cal = cfg->cal;
    pthread_mutex_init(&g->src_mu, NULL);
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->err_mu, NULL);
    pthread_mutex_init(&g->ev_mu, NULL);
    pthread_mutex_init(&g->bus_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(g->bus_detail, sizeof g->bus_detail, "not connected yet");
    atomic_store(&g->last_sync_ms, fxp__ing_now_ms());

    int rc = alloc_parts(g, errbuf, errlen);
    if (rc == FXP_OK) {
        struct fxp_journal_opts jo = cfg->jnl;
        jo.on_warn = on_journal_warn;
        jo.ud = g;
        g->cfg.jnl = jo;
        rc = fxp_journal_open(cfg->journal_dir, &jo, &g->j, errbuf, errlen);
    }
    if (rc == FXP_OK)
        rc = fxp__ing_recover(g, errbuf, errlen);
    if (rc != FXP_OK) {
        fxp_ingest_free(g);
        return rc;
    }
    register_health(g);
    *out = g;
    return FXP_OK;
}

/* Backlog log lines: at backlog_warn and every power of ten above it;
 * one line when it is back under a tenth of backlog_warn. */
static void watch_backlog(struct fxp_ingest *g, uint64_t *next_warn)
{
    uint64_t head = atomic_load(&g->head), pub = atomic_load(&g->published);
    uint64_t backlog = head > pub ? head - pub : 0;
    fxp_gauge_set(g->m_backlog, (double)backlog);
    fxp_gauge_set(g->m_breaker, (double)fxp_breaker_state_get(g->br));
    if (!g->cfg.backlog_warn)
        return;
    if (backlog >= *next_warn) {
        fxp__ing_event(g,
                       "backlog: %" PRIu64 " ticks journaled and not yet "
                       "published (journal head %" PRIu64 ", published %" PRIu64
                       ")",
                       backlog, head, pub);
        while (*next_warn <= backlog && *next_warn < UINT64_MAX / 10)
            *next_warn *= 10;
    } else if (*next_warn > g->cfg.backlog_warn &&
               backlog < g->cfg.backlog_warn / 10) {
        fxp__ing_event(g,
                       "backlog: down to %" PRIu64 " (published %" PRIu64 ")",
                       backlog, pub);
        *next_warn = g->cfg.backlog_warn;
    }
}

/* Interrupt the source: to stop, or (fsync `every`) so that a quiet paced
 * source lets the intake sync what it appended (ingest_intake.c, note 3). */
static void nudge(struct fxp_ingest *g)
{
    bool want = atomic_load(&g->stop_intake);
    if (!want && g->cfg.jnl.fsync == FXP_FSYNC_EVERY &&
        atomic_load(&g->durable) != atomic_load(&g->head))
        want = fxp__ing_now_ms() - atomic_load(&g->last_sync_ms) >=
               (int64_t)g->cfg.jnl.fsync_every_ms;
    if (!want)
        return;
    pthread_mutex_lock(&g->src_mu);
    if (g->cur_src)
        fxp_source_interrupt(g->cur_src);
    pthread_mutex_unlock(&g->src_mu);
}

static void set_health(struct fxp_ingest *g, fxp_health_state st)
{
    if (g->cfg.health)
        fxp_health_set_state(g->cfg.health, st);
}

static double now_s(void)
{
    return (double)fxp__ing_now_ms() / 1000.0;
}

int fxp_ingest_run(struct fxp_ingest *g, const volatile sig_atomic_t *stop,
                   char *errbuf, size_t errlen)
{
    g->t0 = now_s();
    pthread_t ti, tp;
    if (pthread_create(&ti, NULL, fxp__ing_intake, g)) {
        snprintf(errbuf, errlen, "cannot start the intake thread");
        return FXP_ENOMEM;
    }
    if (pthread_create(&tp, NULL, fxp__ing_publisher, g)) {
        fxp__ing_fail(g, FXP_ENOMEM, true, "cannot start the publisher");
        nudge(g);
        pthread_join(ti, NULL);
        snprintf(errbuf, errlen, "%s", g->errbuf);
        return g->err;
    }
    set_health(g, FXP_HEALTH_RUNNING);
    uint64_t next_warn = g->cfg.backlog_warn ? g->cfg.backlog_warn : 1;
    bool said_stop = false;
    while (!(atomic_load(&g->intake_done) && atomic_load(&g->pub_done))) {
        struct timespec nap = {0, WATCH_MS * 1000000L};
        nanosleep(&nap, NULL);
        if (stop && *stop && !said_stop) {
            said_stop = true;
            request_stop(g);
            set_health(g, FXP_HEALTH_STOPPING);
            fxp__ing_event(g,
                           "stopping: no more reading; publishing what "
                           "is journaled (at most %.1f s)",
                           (double)g->cfg.stop_deadline_ms / 1000.0);
        }
        nudge(g);
        watch_backlog(g, &next_warn);
    }
    pthread_join(ti, NULL);
    pthread_join(tp, NULL);
    watch_backlog(g, &next_warn);
    g->t_end = now_s();
    set_health(g, g->err ? FXP_HEALTH_FAILED : FXP_HEALTH_STOPPING);
    if (g->err) {
        snprintf(errbuf, errlen, "%s", g->errbuf);
        return g->err;
    }
    return FXP_OK;
}

void fxp_ingest_stats(struct fxp_ingest *g, struct fxp_ingest_stats *s)
{
    memset(s, 0, sizeof *s);
    s->read = atomic_load(&g->n_read);
    s->accepted = atomic_load(&g->n_accepted);
    s->rejected = atomic_load(&g->n_rejected);
    for (int r = 0; r < FXP_R_COUNT; r++)
        s->rejected_by[r] = atomic_load(&g->rej_by[r]);
    s->resent_rejects = atomic_load(&g->n_resent_rej);
    s->published = atomic_load(&g->n_published);
    s->messages = atomic_load(&g->n_messages);
    s->resent = atomic_load(&g->n_resent);
    s->flush_failures = atomic_load(&g->n_flush_fail);
    s->breaker_opens = fxp_breaker_opens(g->br);
    s->journal_head = atomic_load(&g->head);
    s->published_seq = atomic_load(&g->published);
    s->start_seq = g->start_seq;
    s->skipped_through = g->skip_pos;
    if (g->t0 > 0)
        s->elapsed_s = (g->t_end > 0 ? g->t_end : now_s()) - g->t0;
}

void fxp_ingest_free(struct fxp_ingest *g)
{
    if (!g)
        return;
    fxp_journal_close(g->j);
    fxp_dlq_close(g->dlq);
    fxp_breaker_free(g->br);
    fxp_validator_free(g->val);
    free(g->buf);
    free(g->pos);
    free(g->jbuf);
    free(g->rej);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->src_mu);
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->err_mu);
    pthread_mutex_destroy(&g->ev_mu);
    pthread_mutex_destroy(&g->bus_mu);
    free(g);
}
