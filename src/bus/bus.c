/*
 * bus.c - the bus handle: URL dispatch to a backend (bus_int.h) and the
 * defaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus_int.h"
#include "fxpipe/err.h"

const char *fxp_bus_stream_name(fxp_bus_stream st)
{
    return st == FXP_BUS_BARS ? "bars" : "ticks";
}

void fxp_bus_opts_default(struct fxp_bus_opts *o)
{
    memset(o, 0, sizeof *o);
    o->prefix = "fxpipe";
    o->client_id = "fxpipe";
    o->connect_timeout_ms = 30000;
    o->request_timeout_ms = 5000;
    o->partitions = 4;
    o->max_age_ms = 7LL * 24 * 3600 * 1000;
    o->max_pending = 4096;
}

int fxp_bus_open(const char *url, const struct fxp_bus_opts *o,
                 struct fxp_bus **out, char *errbuf, size_t errlen)
{
    int (*open_fn)(struct fxp_bus *, const char *, char *, size_t);
    struct fxp_bus_opts def;
    const char *servers;
    struct fxp_bus *b;
    int rc;

    *out = NULL;
    if (errlen)
        errbuf[0] = '\0';
    if (url && !strncmp(url, "nats://", 7)) {
        open_fn = fxp__bus_open_nats;
        servers = url + 7;
    } else if (url && !strncmp(url, "kafka://", 8)) {
        open_fn = fxp__bus_open_kafka;
        servers = url + 8;
    } else {
        snprintf(errbuf, errlen,
                 "unknown bus url '%s' (expected nats://HOST:PORT[,...] or "
                 "kafka://HOST:PORT[,...])",
                 url ? url : "");
        return FXP_EINVAL;
    }
    if (!servers[0]) {
        snprintf(errbuf, errlen, "no servers in bus url '%s'", url);
        return FXP_EINVAL;
    }
    if (!o) {
        fxp_bus_opts_default(&def);
        o = &def;
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(errbuf, errlen, "cannot open bus '%s': out of memory", url);
        return FXP_ENOMEM;
    }
    b->opts = *o;
    rc = open_fn(b, servers, errbuf, errlen);
    if (rc != FXP_OK) {
        free(b);
        return rc;
    }
    *out = b;
    return FXP_OK;
}

void fxp_bus_close(struct fxp_bus *b)
{
    if (!b)
        return;
    b->ops->close(b->impl);
    free(b);
}

const char *fxp_bus_backend(const struct fxp_bus *b)
{
    return b->ops->name;
}

const char *fxp_bus_errmsg(const struct fxp_bus *b)
{
    return b->err;
}

int fxp_bus_ping(struct fxp_bus *b, int timeout_ms)
{
    return b->ops->ping(b, timeout_ms);
}

int fxp_bus_publish(struct fxp_bus *b, fxp_bus_stream st, const char *key,
                    const void *payload, size_t len, const char *msg_id,
                    const char *correlation_id)
{
    return b->ops->publish(b, st, key, payload, len, msg_id, correlation_id);
}

int fxp_bus_flush(struct fxp_bus *b, int timeout_ms)
{
    return b->ops->flush(b, timeout_ms);
}

int fxp_bus_subscribe(struct fxp_bus *b, fxp_bus_stream st)
{
    if (!b->opts.group || !b->opts.group[0]) {
        snprintf(b->err, sizeof b->err,
                 "cannot subscribe to %s: no consumer group named",
                 fxp_bus_stream_name(st));
        return FXP_EINVAL;
    }
    return b->ops->subscribe(b, st);
}

int fxp_bus_fetch(struct fxp_bus *b, size_t max, int timeout_ms,
                  fxp_bus_msg_fn fn, void *ud, size_t *n)
{
    size_t dummy;

    return b->ops->fetch(b, max, timeout_ms, fn, ud, n ? n : &dummy);
}

int fxp_bus_commit(struct fxp_bus *b)
{
    return b->ops->commit(b);
}

int fxp_bus_commit_through(struct fxp_bus *b, uint64_t ordinal)
{
    return b->ops->commit_through(b, ordinal);
}

int fxp_bus_pause(struct fxp_bus *b, bool paused)
{
    return b->ops->pause(b, paused);
}
