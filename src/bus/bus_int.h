/*
 * bus_int.h - what a bus backend provides (internal). bus.c parses the URL,
 * fills the defaults and dispatches through one struct fxp_bus_ops, as
 * store.c does for stores. A backend writes the detail of a failure into
 * b->err and returns an fxp_err; it never prints.
 */
#ifndef FXPIPE_BUS_INT_H
#define FXPIPE_BUS_INT_H

#include "fxpipe/bus.h"

struct fxp_bus_ops {
    const char *name; /* "nats", "kafka" */
    int (*ping)(struct fxp_bus *b, int timeout_ms);
    int (*publish)(struct fxp_bus *b, fxp_bus_stream st, const char *key,
                   const void *payload, size_t len, const char *msg_id,
                   const char *correlation_id);
    int (*flush)(struct fxp_bus *b, int timeout_ms);
    int (*subscribe)(struct fxp_bus *b, fxp_bus_stream st);
    int (*fetch)(struct fxp_bus *b, size_t max, int timeout_ms,
                 fxp_bus_msg_fn fn, void *ud, size_t *n);
    int (*commit)(struct fxp_bus *b);
    int (*commit_through)(struct fxp_bus *b, uint64_t ordinal);
    int (*pause)(struct fxp_bus *b, bool paused);
    void (*close)(void *impl); /* frees impl; never NULL */
};

struct fxp_bus {
    const struct fxp_bus_ops *ops;
    void *impl;
    struct fxp_bus_opts opts; /* copied at open, strings borrowed */
    char err[512];
};

/* Backends. `servers` is the URL without its scheme ("h1:4222,h2:4222").
 * On success set b->ops and b->impl; on failure leave them and write the
 * reason into errbuf. */
int fxp__bus_open_nats(struct fxp_bus *b, const char *servers, char *errbuf,
                       size_t errlen);
int fxp__bus_open_kafka(struct fxp_bus *b, const char *servers, char *errbuf,
                        size_t errlen);

#endif
