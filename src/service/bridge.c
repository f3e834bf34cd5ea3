/*
 * bridge.c - the bridge's life cycle and its fetch loop (bridge.h,
 * docs/services/bridge.md).
 *
 * Design notes:
 * 1. Start: the bus and every store are waited for with one bounded
 *    deadline (wait_ms), a log line per failed attempt and a backoff of
 *    0.5, 1, 2, 4, 5, 5 ... s; only then does the bridge join its group,
 *    so a Kafka consumer never sits in a group it cannot serve.
 * 2. Loop: fetch up to `batch` messages, decode each into the batch in
 *    hand (bridge_batch.c), write the merged batch to every store
 *    (bridge_store.c), commit. Nothing new is fetched while a store is
 *    retried: the bus is the buffer.
 * 3. A stop request is seen between fetches and during retries. The batch
 *    in hand gets stop_deadline_ms; past it the bridge closes without
 *    committing and the bus delivers those messages again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/breaker.h"
#include "fxpipe/bus.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "service/bridge_int.h"

/* Distinct symbols the bridge can name (the codec's limit). */
#define BRIDGE_MAX_SYMS 65535u

int64_t fxp__bridge_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fxp__bridge_nap_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec d = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

void fxp__bridge_log(struct fxp_bridge *br, const char *fmt, ...)
{
    if (!br->cfg.on_log)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    br->cfg.on_log(br->cfg.log_ud, msg);
}

bool fxp__bridge_stopping(struct fxp_bridge *br)
{
    if (!br->stop || !*br->stop)
        return false;
    if (br->stop_at == INT64_MAX)
        br->stop_at = fxp__bridge_now_ms() + br->cfg.stop_deadline_ms;
    return true;
}

void fxp_bridge_cfg_default(struct fxp_bridge_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->group = "bridge";
    c->client_id = "fxpipe-bridge";
    fxp_store_opts_default(&c->store);
    c->batch = 64;
    c->fetch_timeout_ms = 200;
    c->wait_ms = 60000;
    fxp_retryq_cfg_default(&c->retry);
    c->breaker_threshold = 5;
    c->breaker_open_ms = 30000;
    c->stop_deadline_ms = 30000;
    c->bus_ping_ms = 5000;
    c->source = "bridge";
}

void fxp_bridge_redact_url(const char *url, char *out, size_t len)
{
    if (!len)
        return;
    const char *scheme = strstr(url, "://");
    const char *auth = scheme ? scheme + 3 : NULL;
    const char *at = auth ? strchr(auth, '@') : NULL;
    const char *slash = auth ? strchr(auth, '/') : NULL;
    const char *colon = auth ? strchr(auth, ':') : NULL;
    if (!at || (slash && slash < at) || !colon || colon > at) {
        snprintf(out, len, "%s", url);
        return;
    }
    snprintf(out, len, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static int bad(char *errbuf, size_t errlen, const char *msg)
{
    snprintf(errbuf, errlen, "%s", msg);
    return FXP_EINVAL;
}

static int check_cfg(const struct fxp_bridge_cfg *c, char *errbuf,
                     size_t errlen)
{
    if (!c->bus_url || !c->bus_url[0])
        return bad(errbuf, errlen,
                   "no bus URL (nats://HOST:PORT or "
                   "kafka://HOST:PORT)");
    if (!c->group || !c->group[0])
        return bad(errbuf, errlen, "no consumer group named");
    if (!c->n_stores || !c->stores)
        return bad(errbuf, errlen, "no store to write to");
    if (c->n_stores > FXP_BRIDGE_MAX_STORES) {
        snprintf(errbuf, errlen, "%zu stores given, at most %d", c->n_stores,
                 FXP_BRIDGE_MAX_STORES);
        return FXP_EINVAL;
    }
    for (size_t i = 0; i < c->n_stores; i++) {
        const char *u = c->stores[i].url;
        if (!u || !u[0])
            return bad(errbuf, errlen, "an empty store URL");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(u, c->stores[j].url)) {
                char r[400];
                fxp_bridge_redact_url(u, r, sizeof r);
                snprintf(errbuf, errlen, "store '%s' named twice", r);
                return FXP_EINVAL;
            }
        if (c->stores[i].optional && !c->dlq_path) {
            char r[400];
            fxp_bridge_redact_url(u, r, sizeof r);
            snprintf(errbuf, errlen,
                     "optional store '%s' needs a dead-letter file for the "
                     "batches it refuses",
                     r);
            return FXP_EINVAL;
        }
    }
    if (!c->batch || c->batch > 100000)
        return bad(errbuf, errlen, "messages per fetch must be 1..100000");
    if (c->fetch_timeout_ms < 1 || c->wait_ms < 0 || c->stop_deadline_ms < 0)
        return bad(errbuf, errlen, "bad fetch timeout, wait or deadline");
    return FXP_OK;
}

int fxp_bridge_new(const struct fxp_bridge_cfg *c, struct fxp_bridge **out,
                   char *errbuf, size_t errlen)
{
    *out = NULL;
    if (errlen)
        errbuf[0] = '\0';
    int rc = check_cfg(c, errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    struct fxp_bridge *br = calloc(1, sizeof *br);
    if (!br) {
        snprintf(errbuf, errlen, "out of memory");
        return FXP_ENOMEM;
    }
    br->cfg = *c;
    bool oom = false;
    br->bus_url = dup_or_null(c->bus_url, &oom);
    br->group = dup_or_null(c->group, &oom);
    br->client_id =
        dup_or_null(c->client_id ? c->client_id : "fxpipe-bridge", &oom);
    br->prefix = dup_or_null(c->prefix, &oom);
    br->dlq_path = dup_or_null(c->dlq_path, &oom);
    br->source = dup_or_null(c->source ? c->source : "bridge", &oom);
    br->cfg.bus_url = br->bus_url;
    br->cfg.group = br->group;
    br->cfg.client_id = br->client_id;
    br->cfg.prefix = br->prefix;
    br->cfg.dlq_path = br->dlq_path;
    br->cfg.source = br->source;
    br->cfg.stores = NULL;
    fxp_bridge_redact_url(c->bus_url, br->bus_label, sizeof br->bus_label);
    br->stop_at = INT64_MAX;
    fxp__bridge_dep_init(&br->bus_dep);
    fxp__bridge_dep_set(&br->bus_dep, 0, "not connected yet");
    for (size_t i = 0; i < c->n_stores && !oom; i++) {
        struct bstore *s = &br->st[i];
        s->owner = br;
        s->optional = c->stores[i].optional;
        s->url = dup_or_null(c->stores[i].url, &oom);
        fxp_bridge_redact_url(c->stores[i].url, s->label, sizeof s->label);
        fxp__bridge_dep_init(&s->dep);
        fxp__bridge_dep_set(&s->dep, 0, "not connected yet");
        br->n = i + 1;
        if (!oom && (rc = fxp__bridge_store_setup(br, s)) != FXP_OK) {
            snprintf(errbuf, errlen, "bad retry or breaker settings");
            fxp_bridge_free(br);
            return rc;
        }
    }
    if (!oom)
        br->symtab = fxp_symtab_new(BRIDGE_MAX_SYMS);
    if (oom || !br->symtab) {
        fxp_bridge_free(br);
        snprintf(errbuf, errlen, "out of memory");
        return FXP_ENOMEM;
    }
    if (c->health) {
        rc = fxp__bridge_health_setup(br, errbuf, errlen);
        if (rc != FXP_OK) {
            fxp_bridge_free(br);
            return rc;
        }
    }
    *out = br;
    return FXP_OK;
}

void fxp_bridge_free(struct fxp_bridge *br)
{
    if (!br)
        return;
    fxp__bridge_batch_free(br);
    fxp_bus_close(br->bus);
    for (size_t i = 0; i < br->n; i++) {
        fxp_store_close(br->st[i].s);
        fxp__bridge_store_teardown(&br->st[i]);
        fxp__bridge_dep_destroy(&br->st[i].dep);
        free(br->st[i].url);
    }
    fxp__bridge_dep_destroy(&br->bus_dep);
    fxp_dlq_close(br->dlq);
    fxp_symtab_free(br->symtab);
    free(br->bus_url);
    free(br->group);
    free(br->client_id);
    free(br->prefix);
    free(br->dlq_path);
    free(br->source);
    free(br);
}

void fxp_bridge_stats_get(struct fxp_bridge *br, struct fxp_bridge_stats *s)
{
    memset(s, 0, sizeof *s);
    s->messages = atomic_load(&br->n_messages);
    s->batches = atomic_load(&br->n_batches);
    s->commits = atomic_load(&br->n_commits);
    s->bars = atomic_load(&br->n_bars_total);
    s->ticks = atomic_load(&br->n_ticks_total);
    s->rejects = atomic_load(&br->n_rejects_total);
    s->retries = atomic_load(&br->n_retries);
    s->dead_lettered = atomic_load(&br->n_dead);
    s->undecodable = atomic_load(&br->n_undecodable);
    s->uncommitted = atomic_load(&br->n_uncommitted);
    int64_t end = br->t_end ? br->t_end : fxp__bridge_now_ms();
    s->elapsed_s = br->t_start ? (double)(end - br->t_start) / 1000.0 : 0;
}

static void set_state(struct fxp_bridge *br, fxp_health_state s)
{
    if (br->cfg.health)
        fxp_health_set_state(br->cfg.health, s);
}

/* ---- Start: note 1 ---- */

/* Sleep up to ms, waking for a stop request. False when stopping. */
static bool wait_a_while(struct fxp_bridge *br, int64_t ms)
{
    int64_t end = fxp__bridge_now_ms() + ms;
    for (;;) {
        if (fxp__bridge_stopping(br))
            return false;
        int64_t left = end - fxp__bridge_now_ms();
        if (left <= 0)
            return true;
        fxp__bridge_nap_ms(left < 50 ? left : 50);
    }
}

/* One try at the bus: open (unless open) and, with join, subscribe. */
static int try_bus(struct fxp_bridge *br, int64_t left, bool join, char *err,
                   size_t errlen)
{
    if (!br->bus) {
        struct fxp_bus_opts o;
        fxp_bus_opts_default(&o);
        if (br->prefix)
            o.prefix = br->prefix;
        o.client_id = br->client_id;
        o.group = br->group;
        o.connect_timeout_ms = (int)(left < 1000   ? 1000
                                     : left > 5000 ? 5000
                                                   : left);
        int rc = fxp_bus_open(br->bus_url, &o, &br->bus, err, errlen);
        if (rc != FXP_OK)
            return rc;
    }
    if (!join)
        return FXP_OK;
    int rc = fxp_bus_subscribe(br->bus, FXP_BUS_BARS);
    if (rc != FXP_OK)
        snprintf(err, errlen, "cannot join group '%s' on %s: %s", br->group,
                 fxp_bus_stream_name(FXP_BUS_BARS), fxp_bus_errmsg(br->bus));
    return rc;
}

static void on_note(void *ud, const char *msg)
{
    struct bstore *s = ud;
    fxp__bridge_log(s->owner, "store '%s': %s", s->label, msg);
}

static int try_store(struct fxp_bridge *br, struct bstore *s, int64_t left,
                     char *err, size_t errlen)
{
    struct fxp_store_opts o = br->cfg.store;
    if (left < 1000)
        left = 1000;
    if (o.connect_timeout_ms <= 0 || o.connect_timeout_ms > left)
        o.connect_timeout_ms = (int)left; /* one try stays within the wait */
    o.on_note = on_note;
    o.note_ud = s;
    return fxp_store_open(s->url, &o, &s->s, err, errlen);
}

/* Wait for one dependency: what 0 the bus (joining when join), else
 * store what - 1. FXP_OK, FXP_ECLOSED (stopped), or an error. */
static int wait_dep(struct fxp_bridge *br, size_t what, bool join,
                    int64_t deadline, char *errbuf, size_t errlen)
{
    struct bstore *s = what ? &br->st[what - 1] : NULL;
    const char *kind = s ? "store" : "bus";
    const char *label = s ? s->label : br->bus_label;
    struct bdep *dep = s ? &s->dep : &br->bus_dep;
    int64_t delay = 500;
    for (int attempt = 1;; attempt++) {
        char err[700] = "";
        int64_t left = deadline - fxp__bridge_now_ms();
        int rc = s ? try_store(br, s, left, err, sizeof err)
                   : try_bus(br, left, join, err, sizeof err);
        if (rc == FXP_OK) {
            fxp__bridge_dep_set(dep, 1, "connected");
            if (attempt > 1)
                fxp__bridge_log(br, "%s '%s' is there after %d attempts", kind,
                                label, attempt);
            return FXP_OK;
        }
        if (rc == FXP_EINVAL) {
            snprintf(errbuf, errlen, "%s", err);
            return rc;
        }
        fxp__bridge_dep_set(dep, -1, "%s", err);
        fxp__bridge_log(br, "waiting for %s '%s': %s", kind, label, err);
        left = deadline - fxp__bridge_now_ms();
        if (left <= 0) {
            snprintf(errbuf, errlen, "%s '%s' not there within %lld s: %s",
                     kind, label, (long long)(br->cfg.wait_ms / 1000), err);
            return FXP_EUNAVAIL;
        }
        if (!wait_a_while(br, delay < left ? delay : left))
            return FXP_ECLOSED;
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
}

static int wait_deps(struct fxp_bridge *br, char *errbuf, size_t errlen)
{
    int64_t deadline = fxp__bridge_now_ms() + br->cfg.wait_ms;
    int rc = wait_dep(br, 0, false, deadline, errbuf, errlen);
    for (size_t i = 0; rc == FXP_OK && i < br->n; i++)
        rc = wait_dep(br, i + 1, false, deadline, errbuf, errlen);
    if (rc == FXP_OK)
        rc = wait_dep(br, 0, true, deadline, errbuf, errlen);
    return rc;
}

/* ---- The loop: notes 2 and 3 ---- */

static void ping_bus(struct fxp_bridge *br)
{
    if (!br->cfg.health || br->cfg.bus_ping_ms <= 0)
        return;
    int64_t now = fxp__bridge_now_ms();
    if (now - br->last_ping < br->cfg.bus_ping_ms)
        return;
    br->last_ping = now;
    int rc = fxp_bus_ping(br->bus, 1000);
    if (rc == FXP_OK)
        fxp__bridge_dep_set(&br->bus_dep, 1, "%s reachable",
                            fxp_bus_backend(br->bus));
    else
        fxp__bridge_dep_set(&br->bus_dep, -1, "%s", fxp_bus_errmsg(br->bus));
}

/* The merged batch in hand went everywhere: commit. */
static void commit(struct fxp_bridge *br, const struct fxp_store_batch *b,
                   int64_t t_fetched)
{
    int64_t t0 = fxp__bridge_now_ms();
    int rc = fxp_bus_commit(br->bus);
    int64_t t1 = fxp__bridge_now_ms();
    if (rc == FXP_OK) {
        atomic_fetch_add(&br->n_commits, 1);
        fxp_gauge_set(br->g_commit, (double)(t1 - t0) / 1000.0);
        fxp_gauge_set(br->g_batch, (double)(t1 - t_fetched) / 1000.0);
    } else {
        fxp__bridge_log(br,
                        "commit of %zu messages failed (the bus delivers "
                        "them again; storing them twice changes nothing): %s",
                        br->n_msgs, fxp_bus_errmsg(br->bus));
    }
    atomic_fetch_add(&br->n_messages, br->n_msgs);
    atomic_fetch_add(&br->n_bars_total, b->n_bars);
    atomic_fetch_add(&br->n_ticks_total, b->n_ticks);
    atomic_fetch_add(&br->n_rejects_total, b->n_rejects);
    fxp_counter_add(br->c_msgs, br->n_msgs);
    fxp_counter_add(br->c_rejects, b->n_rejects);
}

static int loop(struct fxp_bridge *br, char *errbuf, size_t errlen)
{
    bool bus_failing = false;
    int64_t backoff = 200;
    while (!fxp__bridge_stopping(br)) {
        ping_bus(br);
        size_t n = 0;
        br->n_msgs = 0;
        int rc = fxp_bus_fetch(br->bus, br->cfg.batch, br->cfg.fetch_timeout_ms,
                               fxp__bridge_on_msg, br, &n);
        br->n_msgs = n;
        if (br->fatal) {
            fxp__bridge_release(br);
            snprintf(errbuf, errlen, "%s", br->fatal_msg);
            return br->fatal;
        }
        if (rc != FXP_OK) {
            fxp__bridge_dep_set(&br->bus_dep, -1, "%s",
                                fxp_bus_errmsg(br->bus));
            if (!bus_failing)
                fxp__bridge_log(br, "fetch from bus '%s' failed, retrying: %s",
                                br->bus_label, fxp_bus_errmsg(br->bus));
            bus_failing = true;
            if (!n) {
                wait_a_while(br, backoff);
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
                continue;
            }
        } else if (bus_failing) {
            bus_failing = false;
            backoff = 200;
            fxp__bridge_dep_set(&br->bus_dep, 1, "fetching again");
            fxp__bridge_log(br, "bus '%s' is back", br->bus_label);
        }
        if (!n)
            continue;
        int64_t t_fetched = fxp__bridge_now_ms();
        atomic_fetch_add(&br->n_batches, 1);
        br->batch_seq++;
        struct fxp_store_batch sb;
        size_t handled;
        do { /* again if a keep-alive fetch brought more (bridge_store.c) */
            handled = br->n_msgs;
            rc = fxp__bridge_merge(br, &sb);
            if (rc == FXP_OK)
                rc = fxp__bridge_deliver(br, &sb);
        } while (rc == FXP_OK && br->n_msgs > handled);
        if (rc == FXP_OK) {
            commit(br, &sb, t_fetched);
        } else if (rc == FXP_ETIMEDOUT) {
            atomic_fetch_add(&br->n_uncommitted, br->n_msgs);
            fxp__bridge_log(br,
                            "stop deadline passed with %zu messages not in "
                            "every store: not committed, the bus delivers "
                            "them again",
                            br->n_msgs);
        } else {
            snprintf(errbuf, errlen, "%s",
                     br->fatal ? br->fatal_msg : "out of memory");
            fxp__bridge_release(br);
            return br->fatal ? br->fatal : rc;
        }
        fxp__bridge_release(br);
        if (rc == FXP_ETIMEDOUT)
            break;
    }
    return FXP_OK;
}

int fxp_bridge_run(struct fxp_bridge *br, const volatile sig_atomic_t *stop,
                   char *errbuf, size_t errlen)
{
    if (errlen)
        errbuf[0] = '\0';
    if (br->ran) {
        snprintf(errbuf, errlen, "a bridge runs once");
        return FXP_EINVAL;
    }
    br->ran = true;
    br->stop = stop;
    br->t_start = fxp__bridge_now_ms();
    set_state(br, FXP_HEALTH_STARTING);
    int rc = wait_deps(br, errbuf, errlen);
    if (rc == FXP_OK) {
        fxp__bridge_log(br,
                        "bus '%s' group '%s' -> %zu store%s; dead-letter "
                        "file %s",
                        br->bus_label, br->group, br->n, br->n == 1 ? "" : "s",
                        br->dlq_path ? br->dlq_path : "none");
        set_state(br, FXP_HEALTH_RUNNING);
        rc = loop(br, errbuf, errlen);
    } else if (rc == FXP_ECLOSED) {
        rc = FXP_OK; /* stopped while waiting */
    }
    set_state(br, rc == FXP_OK ? FXP_HEALTH_STOPPING : FXP_HEALTH_FAILED);
    fxp_bus_close(br->bus); /* uncommitted messages come again */
    br->bus = NULL;
    fxp__bridge_dep_set(&br->bus_dep, -1, "closed");
    for (size_t i = 0; i < br->n; i++) {
        fxp_store_close(br->st[i].s);
        br->st[i].s = NULL;
        fxp__bridge_dep_set(&br->st[i].dep, -1, "closed");
    }
    br->t_end = fxp__bridge_now_ms();
    return rc;
}
