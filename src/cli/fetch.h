/*
 * fetch.h - the historical sources `fxpipe download` and `fxpipe gaps
 * --fill` can use, behind fxp_fetch_fn (backfill.h): Polygon REST, or
 * files of 1m bars in any format `fxpipe import` reads.
 */
#ifndef FXPIPE_CLI_FETCH_H
#define FXPIPE_CLI_FETCH_H

#include "fxpipe/backfill.h"
#include "fxpipe/polygon.h"

struct fxp_config;

struct fxp_cli_fetch {
    struct fxp_polygon *polygon; /* when the source is polygon */
    char **files;                /* else these files */
    int n_files;
    char desc[256];
    char key[256]; /* from polygon.api_key_file */
};

/* Set up `source` ("polygon" or a file list: files[0..n)). Polygon's key
 * comes from POLYGON_API_KEY, else from the file named by
 * polygon.api_key_file; its URL and limits from the flags given, else
 * (NULL/negative) from the configuration. Prints errors; returns an exit
 * status. */
int fxp_cli_fetch_open(struct fxp_cli_fetch *f, const char *cmd,
                       const char *source, char **files, int n_files,
                       const struct fxp_config *cfg, const char *base_url,
                       double rate_per_min, int timeout_ms, int retry_base_ms);
void fxp_cli_fetch_close(struct fxp_cli_fetch *f);

/* The fxp_fetch_fn to pass with the struct as ud. */
int fxp_cli_fetch(void *ud, const char *symbol, fxp_tf tf, int64_t from,
                  int64_t to, fxp_polygon_page_fn fn, void *page_ud,
                  char *errbuf, size_t errlen);

#endif
