/*
 * common.h - small helpers shared by the subcommands: loading the New York
 * zone and the market calendar the same way everywhere, parsing numbers
 * from flags, a monotonic clock.
 */
#ifndef FXPIPE_CLI_COMMON_H
#define FXPIPE_CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "fxpipe/config.h"

#include "fxpipe/timeframe.h"

struct fxp_tz;
struct fxp_calendar;

/* The time-related set-up every calendar-aware command needs. */
struct fxp_cli_core {
    const char *zone;     /* "America/New_York" */
    const char *holidays; /* "default", "none" or a file */
    fxp_session session;
    struct fxp_tz *ny;        /* loaded by _open */
    struct fxp_calendar *cal; /* loaded by _open */
};

void fxp_cli_core_init(struct fxp_cli_core *c);

/* Load the zone and the calendar; prints a clear error naming `cmd` and
 * returns non-zero on failure. */
int fxp_cli_core_open(struct fxp_cli_core *c, const char *cmd);
void fxp_cli_core_close(struct fxp_cli_core *c);

/* A store named by --db/--store, else by the configuration's store.db. */
struct fxp_cli_store {
    const char *url;       /* from a flag, or NULL */
    const char *config;    /* --config FILE, or NULL */
    struct fxp_config cfg; /* loaded by _open unless have_cfg */
    bool have_cfg;         /* cfg already holds the configuration */
    struct fxp_store *store;
    char url_buf[600];
};

void fxp_cli_store_init(struct fxp_cli_store *cs);

/* The store options every reading command shares: getopt codes 'D'
 * (--db), 'U' (--store) and 'c' (--config). True when c was one of them
 * and has been applied. */
bool fxp_cli_store_option(struct fxp_cli_store *cs, int c, char *arg);

/* Load the configuration, then open the store. With create false a SQLite
 * file that does not exist is an error (reading commands must not create
 * empty databases). Prints a clear error naming `cmd`; returns an exit
 * status (FXP_EXIT_OK on success). */
int fxp_cli_store_open(struct fxp_cli_store *cs, const char *cmd, bool create);
void fxp_cli_store_close(struct fxp_cli_store *cs);

/* Load the configuration (file, environment); prints errors. Returns an
 * exit status. */
int fxp_cli_config_load(struct fxp_config *cfg, const char *path,
                        const char *cmd);

/* Parse a whole decimal integer in [min, max]; 0 on success. */
int fxp_cli_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* The bus of a service: the flag, else bus.url, else $FXPIPE_BUS; NULL
 * when none is set. */
const char *fxp_cli_bus_url(const char *flag, const struct fxp_config *cfg);

/* A flag's value, else the config value when it is not empty, else NULL. */
const char *fxp_cli_pick(const char *flag, const char *cfg_value);

/* Seconds from a monotonic clock. */
double fxp_cli_now(void);

#endif
