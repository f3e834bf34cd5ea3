/*
 * common.h - small helpers shared by the subcommands: loading the New York
 * zone and the market calendar the same way everywhere, parsing numbers
 * from flags, a monotonic clock.
 */
#ifndef FXPIPE_CLI_COMMON_H
#define FXPIPE_CLI_COMMON_H

#include <stdint.h>

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

/* Parse a whole decimal integer in [min, max]; 0 on success. */
int fxp_cli_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Seconds from a monotonic clock. */
double fxp_cli_now(void);

#endif
