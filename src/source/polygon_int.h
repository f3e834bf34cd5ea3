/*
 * polygon_int.h - the JSON side of the Polygon client (internal):
 * polygon_page.c turns a response body into bars, polygon.c does the HTTP.
 * Pure functions of their arguments; no libcurl here, no jansson outside.
 */
#ifndef FXPIPE_POLYGON_INT_H
#define FXPIPE_POLYGON_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fxpipe/timeframe.h"
#include "fxpipe/types.h"

/* A growing array of bars that pages are parsed into. */
struct fxp__poly_bars {
    struct fxp_bar *v; /* owned; free() it */
    size_t cap;        /* bars v can hold */
};

/* Parse one aggregates response body[0..len) into bars->v[0..*n): the
 * results with t in [from, to) and t > last, ascending, duplicates of a
 * time dropped, with tf, source FXP_SRC_HISTORICAL and the rest as
 * polygon.h says. *next gets a malloc'd copy of `next_url` (the caller
 * frees it) or NULL. `shown` is the page URL without its query, for
 * messages. Returns FXP_OK, FXP_EPARSE (not JSON, status not OK/DELAYED,
 * a missing or non-numeric field: the message names it and `shown`) or
 * FXP_ENOMEM. */
int fxp__polygon_parse_page(const char *body, size_t len, const char *shown,
                            fxp_tf tf, int64_t from, int64_t to, int64_t last,
                            struct fxp__poly_bars *bars, size_t *n, char **next,
                            char *errbuf, size_t errlen);

/* ": <error or message field>" of an error body, printable ASCII, at most
 * 200 bytes of it; "" when the body has neither. */
void fxp__polygon_server_message(const char *body, size_t len, char *out,
                                 size_t outlen);

#endif
