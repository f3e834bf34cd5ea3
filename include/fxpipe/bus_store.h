/*
 * bus_store.h - a bus stream as the pipeline's store: what the pipeline's
 * writer stores is published instead (the aggregate service's output).
 *
 * fxp_store_write splits the batch per symbol (bars, with their ticks when
 * kept) plus one message of rejects (key "_rejects"), publishes each with a
 * content-derived message id, waits until the bus holds them all
 * (fxp_bus_flush) and only then saves the batch's meta value in a small
 * state file (written to a temporary file, fsync'd and renamed), so
 * fxp_store_meta_get - the pipeline's journal cursor - never runs ahead of
 * what the bus holds. A failed flush fails the write: the pipeline's
 * writer retries the whole batch (same ids: de-duplicated) behind its
 * breaker. Reading bars back is not possible (FXP_EINVAL).
 */
#ifndef FXPIPE_BUS_STORE_H
#define FXPIPE_BUS_STORE_H

#include <stddef.h>

#include "fxpipe/bus.h"
#include "fxpipe/store.h"

/* Open a store publishing to stream st of bus (borrowed; must outlive the
 * store) with its state in state_path (created when absent). corr_prefix
 * prefixes the correlation ids. Errors: FXP_EIO (an unreadable state
 * file), FXP_ENOMEM. */
int fxp_store_open_bus(struct fxp_bus *bus, fxp_bus_stream st,
                       const char *state_path, const char *corr_prefix,
                       const struct fxp_store_opts *opts,
                       struct fxp_store **out, char *errbuf, size_t errlen);

#endif
