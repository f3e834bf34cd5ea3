/*
 * bridge_health.c - what the bridge shows a health server (health.h):
 * the dependencies "bus" and "store:<url>" for /readyz, answered from the
 * status the bridge's thread caches (store and bus handles are
 * single-threaded: the HTTP threads never touch them), and the
 * fxpipe_bridge_* metrics.
 */
#include <stdio.h>
#include <string.h>

#include "fxpipe/breaker.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "service/bridge_int.h"

void fxp__bridge_dep_init(struct bdep *d)
{
    pthread_mutex_init(&d->mu, NULL);
    d->state = 0;
    d->detail[0] = '\0';
}

void fxp__bridge_dep_destroy(struct bdep *d)
{
    pthread_mutex_destroy(&d->mu);
}

void fxp__bridge_dep_set(struct bdep *d, int state, const char *fmt, ...)
{
    char buf[sizeof d->detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&d->mu);
    d->state = state;
    memcpy(d->detail, buf, sizeof buf);
    pthread_mutex_unlock(&d->mu);
}

static int dep_read(struct bdep *d, char *detail, size_t len)
{
    pthread_mutex_lock(&d->mu);
    int state = d->state;
    snprintf(detail, len, "%s", d->detail);
    pthread_mutex_unlock(&d->mu);
    return state;
}

static fxp_err check_bus(void *ud, int timeout_ms, char *detail, size_t len)
{
    (void)timeout_ms;
    struct fxp_bridge *br = ud;
    return dep_read(&br->bus_dep, detail, len) == 1 ? FXP_OK : FXP_EUNAVAIL;
}

static fxp_err check_store(void *ud, int timeout_ms, char *detail, size_t len)
{
    (void)timeout_ms;
    struct bstore *s = ud;
    char last[sizeof s->dep.detail];
    int state = dep_read(&s->dep, last, sizeof last);
    fxp_breaker_state bs = fxp_breaker_state_get(s->brk);
    snprintf(detail, len, "breaker %s; %s", fxp_breaker_state_name(bs), last);
    return state == 1 && bs != FXP_BREAKER_OPEN ? FXP_OK : FXP_EUNAVAIL;
}

/* `store="<label>"` with the value escaped for the exposition format. */
static void store_label(const char *label, char *out, size_t len)
{
    size_t o = 0;
    const char pre[] = "store=\"";
    if (len < sizeof pre + 2) {
        if (len)
            out[0] = '\0';
        return;
    }
    memcpy(out, pre, sizeof pre - 1);
    o = sizeof pre - 1;
    for (const char *p = label; *p && o + 4 < len; p++) {
        if (*p == '\\' || *p == '"') {
            out[o++] = '\\';
            out[o++] = *p;
        } else if (*p == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

int fxp__bridge_health_setup(struct fxp_bridge *br, char *errbuf, size_t errlen)
{
    struct fxp_health *h = br->cfg.health;
    int rc = fxp_health_add_dep(h, "bus", true, check_bus, br);
    if (rc != FXP_OK) {
        snprintf(errbuf, errlen, "cannot add health check 'bus': %s",
                 fxp_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < br->n; i++) {
        struct bstore *s = &br->st[i];
        char name[64], labels[600];
        snprintf(name, sizeof name, "store:%.56s", s->label);
        rc = fxp_health_add_dep(h, name, !s->optional, check_store, s);
        if (rc == FXP_EEXIST) { /* two URLs alike in their first bytes */
            snprintf(name, sizeof name, "store%u:%.40s",
                     (unsigned)(i + 1) % 1000, s->label);
            rc = fxp_health_add_dep(h, name, !s->optional, check_store, s);
        }
        if (rc != FXP_OK) {
            snprintf(errbuf, errlen, "cannot add health check '%s': %s", name,
                     fxp_strerror(rc));
            return rc;
        }
        store_label(s->label, labels, sizeof labels);
        s->c_bars = fxp_health_counter(
            h, "fxpipe_bridge_bars_total",
            "Bars written to a store (after merging revisions).", labels);
        fxp_health_gauge_fn(h, "fxpipe_bridge_breaker_state",
                            "A store's circuit breaker: 0 closed, 1 open, 2 "
                            "half-open.",
                            labels, fxp_health_breaker_value, s->brk);
    }
    br->c_msgs = fxp_health_counter(
        h, "fxpipe_bridge_messages_total",
        "Bus messages handled (stored in every store or dead-lettered).", NULL);
    br->c_rejects = fxp_health_counter(h, "fxpipe_bridge_rejects_total",
                                       "Rejected records passed on.", NULL);
    br->c_retries = fxp_health_counter(h, "fxpipe_bridge_retries_total",
                                       "Store writes tried again.", NULL);
    br->c_dead =
        fxp_health_counter(h, "fxpipe_bridge_dead_letters_total",
                           "Entries written to the dead-letter file.", NULL);
    br->c_undec =
        fxp_health_counter(h, "fxpipe_bridge_undecodable_total",
                           "Messages whose payload did not decode.", NULL);
    br->g_batch = fxp_health_gauge(
        h, "fxpipe_bridge_batch_seconds",
        "Last batch: from its fetch to its commit, store writes and retries "
        "included.",
        NULL);
    br->g_commit = fxp_health_gauge(h, "fxpipe_bridge_commit_seconds",
                                    "Last bus commit's duration.", NULL);
    return FXP_OK;
}
