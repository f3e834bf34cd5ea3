/* common.c - set-up shared by the subcommands (see common.h). */
#include "cli/common.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "cli/commands.h"
#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/tz.h"

void fxp_cli_core_init(struct fxp_cli_core *c)
{
    c->zone = "America/New_York";
    c->holidays = "default";
    c->session = FXP_SESSION_NY_CLOSE;
    c->ny = NULL;
    c->cal = NULL;
}

int fxp_cli_core_open(struct fxp_cli_core *c, const char *cmd)
{
    char err[512];
    int rc = fxp_tz_load(c->zone, &c->ny, err, sizeof err);
    if (rc != FXP_OK) {
        fxp_cli_error(cmd, "%s", err);
        return rc;
    }
    rc = fxp_cal_new(c->ny, c->holidays, &c->cal, err, sizeof err);
    if (rc != FXP_OK) {
        fxp_cli_error(cmd, "%s", err);
        return rc;
    }
    return FXP_OK;
}

void fxp_cli_core_close(struct fxp_cli_core *c)
{
    fxp_cal_free(c->cal);
    fxp_tz_free(c->ny);
    c->cal = NULL;
    c->ny = NULL;
}

int fxp_cli_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

double fxp_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
