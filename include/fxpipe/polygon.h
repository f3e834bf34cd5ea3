/*
 * polygon.h - a client for Polygon.io (Massive.com) REST aggregates, the
 * historical source of the back-fill.
 *
 * GET {base}/v2/aggs/ticker/C:EURUSD/range/1/minute/{from}/{to}
 *     ?adjusted=true&sort=asc&limit=50000&apiKey=KEY
 * following `next_url` (the key re-appended), with a token-bucket rate
 * limit, a timeout on every request, exponential backoff with jitter on
 * 429, 5xx, timeouts and connection errors, and no retry on 401/403. The
 * API key never appears in messages (URLs are shown without the query).
 * One thread per client.
 */
#ifndef FXPIPE_POLYGON_H
#define FXPIPE_POLYGON_H

#include <stddef.h>
#include <stdint.h>

#include "fxpipe/timeframe.h"
#include "fxpipe/types.h"

struct fxp_polygon_cfg {
    const char *base_url; /* "https://api.polygon.io" by default */
    const char *api_key;  /* required */
    int timeout_ms;       /* per request (30000) */
    double rate_per_min;  /* requests per minute; 0 = unlimited (5) */
    int max_retries;      /* per request (6) */
    int retry_base_ms;    /* first backoff, doubled each retry (1000) */
    int retry_max_ms;     /* backoff cap (32000) */
    int limit;            /* `limit` parameter (50000) */
};

void fxp_polygon_cfg_default(struct fxp_polygon_cfg *c);

struct fxp_polygon_stats {
    uint64_t requests; /* HTTP requests sent, retries included */
    uint64_t pages;    /* successful responses */
    uint64_t bars;     /* bars delivered */
    uint64_t retries;
    uint64_t http_429, http_5xx, timeouts, conn_errors;
};

struct fxp_polygon;

/* Copies cfg. Errors: FXP_EINVAL (no API key, bad URL), FXP_ENOMEM. */
int fxp_polygon_new(const struct fxp_polygon_cfg *cfg, struct fxp_polygon **out,
                    char *errbuf, size_t errlen);
void fxp_polygon_free(struct fxp_polygon *p);

/* Called per page of bars (ascending by time within the page); bars have
 * tf, ts, OHLC, volume (`v`), n_ticks (`n`, 1 when absent), sym = 0 (the
 * caller knows the symbol), source FXP_SRC_HISTORICAL, version 0. Return
 * non-zero to stop (fetch then returns FXP_ECLOSED). */
typedef int (*fxp_polygon_page_fn)(void *ud, const struct fxp_bar *bars,
                                   size_t n);

/* Fetch bars of `symbol` (normalised, e.g. "EURUSD" -> ticker C:EURUSD;
 * metals too: C:XAUUSD) and timeframe tf (1m, 5m...1h as minute
 * multipliers, 4h as hour, 1d day, 1w week) with open time in [from, to).
 * Returns FXP_OK; FXP_EINVAL for a rejected key (401/403: fatal, never
 * retried) or a 4xx; FXP_EUNAVAIL when retries are exhausted (429, 5xx,
 * timeouts); FXP_EPARSE for a malformed response. */
int fxp_polygon_fetch(struct fxp_polygon *p, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_polygon_page_fn fn,
                      void *ud, char *errbuf, size_t errlen);

void fxp_polygon_get_stats(const struct fxp_polygon *p,
                           struct fxp_polygon_stats *out);

#endif
