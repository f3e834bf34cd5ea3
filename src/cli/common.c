/* common.c - set-up shared by the subcommands (see common.h). */
#include "cli/common.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "cli/commands.h"
#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/tz.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

int fxp_cli_config_load(struct fxp_config *cfg, const char *path,
                        const char *cmd)
{
    char err[600];
    int rc = fxp_config_load_all(cfg, path, err, sizeof err);
    if (rc != FXP_OK) {
        fxp_cli_error(cmd, "%s", err);
        return rc == FXP_ENOENT || rc == FXP_EIO ? FXP_EXIT_IO : FXP_EXIT_USAGE;
    }
    return FXP_EXIT_OK;
}

void fxp_cli_store_init(struct fxp_cli_store *cs)
{
    memset(cs, 0, sizeof *cs);
}

bool fxp_cli_store_option(struct fxp_cli_store *cs, int c, char *arg)
{
    if (c == 'D' || c == 'U')
        cs->url = arg;
    else if (c == 'c')
        cs->config = arg;
    else
        return false;
    return true;
}

/* The file behind a SQLite URL ("sqlite:x.db" or "x.db"), else NULL. */
static const char *sqlite_path(const char *url)
{
    if (!strncmp(url, "sqlite:", 7))
        return url + 7;
    return strstr(url, "://") ? NULL : url;
}

/* Facts a store found at open (e.g. how it keeps ticks), one line each. */
static void store_note(void *ud, const char *msg)
{
    fprintf(stderr, "%s: %s\n", (const char *)ud, msg);
}

int fxp_cli_store_open(struct fxp_cli_store *cs, const char *cmd, bool create)
{
    if (!cs->have_cfg) {
        int status = fxp_cli_config_load(&cs->cfg, cs->config, cmd);
        if (status != FXP_EXIT_OK)
            return status;
    }
    if (!cs->url) {
        snprintf(cs->url_buf, sizeof cs->url_buf, "%s", cs->cfg.store_db);
        cs->url = cs->url_buf;
    }
    const char *path = sqlite_path(cs->url);
    struct stat sb;
    if (!create && path && stat(path, &sb) != 0) {
        fxp_cli_error(cmd,
                      "no database '%s' (nothing stored yet? 'fxpipe run' or "
                      "'fxpipe import' create one)",
                      path);
        return FXP_EXIT_IO;
    }
    struct fxp_store_opts so;
    fxp_store_opts_default(&so);
    so.busy_timeout_ms = (int)cs->cfg.store_busy_timeout_ms;
    so.keep_ticks = cs->cfg.store_keep_ticks;
    so.tick_retention_ms = cs->cfg.store_tick_retention_days * 86400000LL;
    if (create) { /* jobs that write log what the store chose; readers don't */
        so.on_note = store_note;
        so.note_ud = (void *)cmd;
    }
    char err[600];
    int rc = fxp_store_open(cs->url, &so, &cs->store, err, sizeof err);
    if (rc != FXP_OK) {
        fxp_cli_error(cmd, "%s", err);
        return rc == FXP_EINVAL ? FXP_EXIT_USAGE : FXP_EXIT_IO;
    }
    return FXP_EXIT_OK;
}

void fxp_cli_store_close(struct fxp_cli_store *cs)
{
    fxp_store_close(cs->store);
    cs->store = NULL;
}

const char *fxp_cli_pick(const char *flag, const char *cfg_value)
{
    if (flag && flag[0])
        return flag;
    return cfg_value && cfg_value[0] ? cfg_value : NULL;
}

const char *fxp_cli_bus_url(const char *flag, const struct fxp_config *cfg)
{
    const char *url = fxp_cli_pick(flag, cfg->bus_url);
    if (!url)
        url = getenv("FXPIPE_BUS");
    return url && url[0] ? url : NULL;
}
