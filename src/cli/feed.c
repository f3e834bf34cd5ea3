/* feed.c - the live feed shared by `fxpipe run` and `fxpipe ingest`
 * (feed.h). */
#include "cli/feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/source.h"
#include "fxpipe/time.h"

static int parse_speed(const char *s, double *speed)
{
    if (!strcmp(s, "max")) {
        *speed = 0;
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 1e9)
        return -1;
    *speed = v;
    return 0;
}

int fxp_cli_feed_check(struct fxp_cli_feed *f, const struct fxp_config *cfg,
                       const char *cmd)
{
    f->cfg = cfg;
    if (parse_speed(cfg->feed_speed, &f->speed)) {
        fxp_cli_error(cmd, "bad speed '%s' (a positive number or max)",
                      cfg->feed_speed);
        return FXP_EXIT_USAGE;
    }
    if (strcmp(cfg->feed_feed, "synthetic") &&
        strncmp(cfg->feed_feed, "replay:", 7)) {
        fxp_cli_error(cmd, "unknown feed '%s' (synthetic or replay:FILE)",
                      cfg->feed_feed);
        return FXP_EXIT_USAGE;
    }
    return FXP_EXIT_OK;
}

/* The last complete trading week before now: [close - 7 days, close) where
 * close is the most recent session close in the past. */
static void last_week(const struct fxp_calendar *cal, int64_t *from,
                      int64_t *to)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000;
    struct fxp_span s[64];
    size_t n = fxp_cal_sessions(cal, now - 21 * FXP_MS_PER_DAY, now, s, 64);
    if (n > 64)
        n = 64;
    int64_t close = now;
    for (size_t i = n; i-- > 0;)
        if (s[i].close_ms < now) {
            close = s[i].close_ms;
            break;
        }
    *to = close;
    *from = close - FXP_MS_PER_WEEK;
}

int fxp_cli_feed_range(struct fxp_cli_feed *f, const struct fxp_cli_core *core,
                       const char *cmd)
{
    const struct fxp_config *cfg = f->cfg;
    f->core = core;
    last_week(core->cal, &f->from, &f->to);
    if ((cfg->feed_from[0] && fxp_time_parse_str(cfg->feed_from, &f->from)) ||
        (cfg->feed_to[0] && fxp_time_parse_str(cfg->feed_to, &f->to))) {
        fxp_cli_error(cmd, "bad --from/--to time");
        return FXP_EXIT_USAGE;
    }
    if (cfg->feed_from[0] && !cfg->feed_to[0])
        f->to = f->from + FXP_MS_PER_WEEK;
    return FXP_EXIT_OK;
}

int fxp_cli_feed_open(void *ud, size_t index, fxp_csv_bad_fn on_bad,
                      void *bad_ud, struct fxp_source **out, char *errbuf,
                      size_t errlen)
{
    (void)index;
    struct fxp_cli_feed *r = ud;
    const char *feed = r->cfg->feed_feed;
    if (!strncmp(feed, "replay:", 7)) {
        struct fxp_source_opts o;
        fxp_source_opts_default(&o);
        o.kind = FXP_KIND_TICKS;
        o.on_bad = on_bad;
        o.ud = bad_ud;
        struct fxp_source *file = NULL;
        int rc =
            fxp_source_open_file(feed + 7, &o, r->st, &file, errbuf, errlen);
        if (rc != FXP_OK)
            return rc;
        rc = fxp_source_pace(file, r->speed, out);
        if (rc != FXP_OK)
            snprintf(errbuf, errlen, "cannot pace '%s'", feed + 7);
        return rc;
    }
    struct fxp_synth_cfg sc;
    fxp_synth_cfg_default(&sc);
    sc.seed = (uint64_t)r->cfg->feed_seed;
    sc.symbols = r->cfg->feed_symbols;
    sc.from_ms = r->from;
    sc.to_ms = r->to;
    sc.quotes_per_sec = r->cfg->feed_quotes_per_sec;
    sc.cal = r->core->cal;
    struct fxp_source *syn = NULL;
    int rc = fxp_source_open_synthetic(&sc, r->st, &syn, errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    rc = fxp_source_pace(syn, r->speed, out);
    if (rc != FXP_OK)
        snprintf(errbuf, errlen, "cannot pace the synthetic feed");
    return rc;
}

void fxp_cli_feed_id(const struct fxp_cli_feed *f, char *out, size_t len)
{
    const struct fxp_config *cfg = f->cfg;
    if (!strcmp(cfg->feed_feed, "synthetic"))
        snprintf(out, len, "synthetic:%s:%lld:%lld:%lld", cfg->feed_symbols,
                 (long long)cfg->feed_seed, (long long)f->from,
                 (long long)f->to);
    else
        snprintf(out, len, "%s", cfg->feed_feed);
}

void fxp_cli_feed_describe(const struct fxp_cli_feed *f, char *out, size_t len)
{
    const struct fxp_config *cfg = f->cfg;
    if (strcmp(cfg->feed_feed, "synthetic")) {
        snprintf(out, len, "%s", cfg->feed_feed);
        return;
    }
    char a[32], b[32];
    fxp_time_format_iso(f->from, a, sizeof a);
    fxp_time_format_iso(f->to, b, sizeof b);
    snprintf(out, len, "synthetic feed %s (seed %lld) %s .. %s",
             cfg->feed_symbols, (long long)cfg->feed_seed, a, b);
}
