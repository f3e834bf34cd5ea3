/*
 * config_table.c - the table of settings, one row per entry, and the
 * checks of string values; the rest of the module is driven by the table.
 *
 * Design notes
 *
 *  1. fxp__config_entries[] is the only list of settings (Redis's
 *     static_configs[]). Adding one is one row here plus its field in
 *     struct fxp_config and FXP_CONFIG_N_ENTRIES (include/fxpipe/config.h).
 *  2. Defaults are text in the table and go through the same parser as a
 *     value from a file, so a default that fails its own validation trips
 *     an assert in fxp_config_init() (config_value.c) the first time any
 *     test runs.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "fxpipe/timeframe.h"
#include "service/config_int.h"

static int check_nonempty(const struct fxp__config_entry *e, const char *v,
                          char *err, size_t len);
static int check_feed(const struct fxp__config_entry *e, const char *v,
                      char *err, size_t len);
static int check_symbols(const struct fxp__config_entry *e, const char *v,
                         char *err, size_t len);
static int check_time(const struct fxp__config_entry *e, const char *v,
                      char *err, size_t len);
static int check_speed(const struct fxp__config_entry *e, const char *v,
                       char *err, size_t len);
static int check_timeframes(const struct fxp__config_entry *e, const char *v,
                            char *err, size_t len);

static const char *const session_words[] = {"ny-close", "utc", NULL};
static const char *const price_words[] = {"mid", "bid", "ask", NULL};
static const char *const fsync_words[] = {"always", "every", "never", NULL};
static const char *const level_words[] = {"error", "warn", "info", "debug",
                                          NULL};

#define FIELD(f)                                                               \
    .off = offsetof(struct fxp_config, f),                                     \
    .size = sizeof(((struct fxp_config *)0)->f)

/* One row each: name, [bounds or words,] default, field, [check, allowed,]
 * help. */
#define STRING(nm, dflt, fld, chk, allow, hlp)                                 \
    {                                                                          \
        .name = nm, .type = FXP__CONFIG_STRING, .def = dflt, FIELD(fld),       \
        .check = chk, .allowed = allow, .help = hlp                            \
    }
#define INT(nm, lo, hi, dflt, fld, hlp)                                        \
    {                                                                          \
        .name = nm, .type = FXP__CONFIG_INT, .min = lo, .max = hi,             \
        .def = dflt, FIELD(fld), .help = hlp                                   \
    }
#define DOUBLE(nm, lo, hi, dflt, fld, hlp)                                     \
    {                                                                          \
        .name = nm, .type = FXP__CONFIG_DOUBLE, .dmin = lo, .dmax = hi,        \
        .def = dflt, FIELD(fld), .help = hlp                                   \
    }
#define BOOL(nm, dflt, fld, hlp)                                               \
    {                                                                          \
        .name = nm, .type = FXP__CONFIG_BOOL, .def = dflt, FIELD(fld),         \
        .help = hlp                                                            \
    }
#define ENUM(nm, wds, dflt, fld, hlp)                                          \
    {                                                                          \
        .name = nm, .type = FXP__CONFIG_ENUM, .words = wds, .def = dflt,       \
        FIELD(fld), .help = hlp                                                \
    }

const struct fxp__config_entry fxp__config_entries[] = {
    /* [store] */
    STRING("store.db", "fxpipe.db", store_db, check_nonempty, "path or URL",
           "SQLite database path (or a store URL)."),
    INT("store.busy_timeout_ms", 0, 600000, "5000", store_busy_timeout_ms,
        "How long a write waits for a locked SQLite database, in ms."),
    BOOL("store.keep_ticks", "false", store_keep_ticks,
         "Also store the raw ticks, not only the bars."),
    INT("store.tick_retention_days", 0, 3650, "7", store_tick_retention_days,
        "Days of raw ticks to keep; 0 = keep forever."),

    STRING("store.dlq", "", store_dlq, NULL, "path, none, or empty",
           "Dead-letter file for batches the store refused after every "
           "retry; empty = the database path with .dlq, none = stop the job "
           "instead."),
    INT("store.retry_attempts", 1, 100, "7", store_retry_attempts,
        "Attempts to store a batch, the first included, before it goes to "
        "the dead-letter file (7: retries after 1 2 4 8 16 32 s)."),
    INT("store.retry_base_ms", 0, 3600000, "1000", store_retry_base_ms,
        "Delay before the first retry, doubled for each next one (+-20% "
        "jitter)."),
    INT("store.retry_max_ms", 0, 3600000, "32000", store_retry_max_ms,
        "Longest delay between retries."),
    INT("store.breaker_threshold", 1, 1000, "5", store_breaker_threshold,
        "Consecutive store failures that open its circuit breaker."),
    INT("store.breaker_open_ms", 1, 3600000, "30000", store_breaker_open_ms,
        "How long the breaker stays open before one probe write."),
    INT("store.stop_deadline_ms", 0, 3600000, "30000", store_stop_deadline_ms,
        "On SIGINT/SIGTERM, how long to keep trying a failing store before "
        "the rest is dead-lettered."),

    /* [feed] */
    STRING("feed.feed", "synthetic", feed_feed, check_feed,
           "synthetic, replay:FILE",
           "Where quotes come from: the synthetic generator or a replay of "
           "a tick CSV file."),
    STRING("feed.symbols", "EURUSD,GBPUSD,USDJPY,XAUUSD", feed_symbols,
           check_symbols, "comma-separated symbols", "Symbols to capture."),
    STRING("feed.from", "", feed_from, check_time, "ISO-8601 or Unix ms",
           "Start of the feed's time range; empty = the last complete "
           "trading week."),
    STRING("feed.to", "", feed_to, check_time, "ISO-8601 or Unix ms",
           "End of the feed's time range (exclusive); empty = the end of "
           "the last complete trading week."),
    STRING("feed.speed", "max", feed_speed, check_speed, "max, or a number > 0",
           "Replay speed: max, or a factor of real time (1 = real time)."),
    INT("feed.seed", 1, INT64_C(4611686018427387904) /* 2^62 */, "1", feed_seed,
        "Seed of the synthetic feed; the same seed gives the same quotes."),
    DOUBLE("feed.quotes_per_sec", 0.01, 1000, "2", feed_quotes_per_sec,
           "Synthetic quotes per second per symbol."),

    /* [validate] */
    DOUBLE("validate.max_spread_frac", 0, 1, "0.05", validate_max_spread_frac,
           "Reject quotes whose (ask-bid)/mid is above this; 0 = off."),
    DOUBLE("validate.max_jump_frac", 0, 10, "0.1", validate_max_jump_frac,
           "Reject quotes whose mid moved more than this fraction from the "
           "symbol's last good quote; 0 = off."),

    /* [bars] */
    STRING("bars.timeframes", "all", bars_timeframes, check_timeframes,
           "all, or a list of 1m 5m 15m 30m 1h 4h 1d 1w",
           "Timeframes to build, comma-separated, or all."),
    ENUM("bars.session", session_words, "ny-close", bars_session,
         "Where 4h, 1d and 1w bars start: 17:00 New York (ny-close) or UTC "
         "midnight (utc)."),
    ENUM("bars.price", price_words, "mid", bars_price,
         "Price that bars built from quotes follow."),
    INT("bars.lateness_ms", 0, 604800000, "5000", bars_lateness_ms,
        "How far behind the newest tick a late tick may still revise its "
        "bar, in ms."),

    /* [calendar] */
    STRING("calendar.holidays", "default", calendar_holidays, check_nonempty,
           "default, none, FILE",
           "Market holidays: the built-in list (default), none, or a holiday "
           "file (docs/holidays.md)."),

    /* [gaps] */
    INT("gaps.lookback_days", 1, 3650, "7", gaps_lookback_days,
        "Days that 'fxpipe gaps --serve' looks back when no range is given."),
    DOUBLE("gaps.intraday_threshold", 0, 1, "1", gaps_intraday_threshold,
           "Completeness at which a 1m..4h series counts as complete."),
    DOUBLE("gaps.daily_threshold", 0, 1, "0.8", gaps_daily_threshold,
           "Completeness at which a 1d or 1w series counts as complete."),
    INT("gaps.max_attempts", 1, 100, "3", gaps_max_attempts,
        "Download attempts per day before it is marked needs-review."),

    /* [polygon] */
    STRING("polygon.base_url", "https://api.polygon.io", polygon_base_url,
           check_nonempty, "URL",
           "Polygon REST base URL (https://api.massive.com works too)."),
    STRING("polygon.api_key_file", "", polygon_api_key_file, NULL,
           "path, or empty",
           "File holding the Polygon API key, used when POLYGON_API_KEY is "
           "not set; the key itself is never printed."),
    DOUBLE("polygon.rate_limit", 0, 100000, "5", polygon_rate_limit,
           "Requests per minute (5 = the free tier); 0 = no limit."),
    INT("polygon.timeout_ms", 100, 600000, "30000", polygon_timeout_ms,
        "Timeout of each request, in ms."),

    /* [journal] */
    BOOL("journal.enabled", "true", journal_enabled,
         "Journal every quote of 'fxpipe run' on disk before it is "
         "processed, so a crash loses nothing."),
    STRING("journal.dir", "", journal_dir, NULL, "directory, or empty",
           "Journal directory; empty = the database path with .journal "
           "(fxpipe.db -> fxpipe.journal)."),
    ENUM("journal.fsync", fsync_words, "every", journal_fsync,
         "When the journal is fsynced: after every append, every "
         "journal.fsync_ms, or never (left to the OS)."),
    INT("journal.fsync_ms", 1, 60000, "100", journal_fsync_ms,
        "fsync period of journal.fsync = every, in ms."),
    INT("journal.retain_mb", 0, 10000000, "1024", journal_retain_mb,
        "Journal kept at most (whole segments already stored are deleted "
        "beyond this); 0 = delete them at once."),

    /* [pipeline] */
    INT("pipeline.queue_batches", 1, 65536, "16", pipeline_queue_batches,
        "Capacity of each stage queue, in batches."),
    INT("pipeline.batch_size", 16, 1048576, "4096", pipeline_batch_size,
        "Records per batch."),
    INT("pipeline.pause_warn_ms", 0, 86400000, "600000", pipeline_pause_warn_ms,
        "Warn when backpressure pauses the source this long; 0 = never."),

    /* [bus] and the services */
    STRING("bus.url", "", bus_url, NULL, "nats://H:P[,..] | kafka://H:P[,..]",
           "The bus joining ingest, aggregate and bridge; empty = --bus or "
           "$FXPIPE_BUS."),
    STRING("bus.prefix", "fxpipe", bus_prefix, check_nonempty, "name",
           "Prefix of the bus's subjects and topics."),
    STRING("ingest.journal", "ingest.journal", ingest_journal, check_nonempty,
           "directory", "The ingest service's journal (its spool)."),
    STRING("ingest.health", "", ingest_health, NULL, "HOST:PORT, or empty",
           "Where ingest serves /healthz, /readyz, /metrics; empty = off."),
    STRING("aggregate.journal", "aggregate.journal", aggregate_journal,
           check_nonempty, "directory",
           "The aggregate service's tick journal."),
    STRING("aggregate.health", "", aggregate_health, NULL,
           "HOST:PORT, or empty",
           "Where aggregate serves /healthz, /readyz, /metrics; empty = off."),
    STRING("bridge.stores", "", bridge_stores, NULL, "URL[,URL..], or empty",
           "Stores the bridge writes every batch to; empty = store.db."),
    STRING("bridge.health", "", bridge_health, NULL, "HOST:PORT, or empty",
           "Where bridge serves /healthz, /readyz, /metrics; empty = off."),

    /* [log] */
    ENUM("log.level", level_words, "info", log_level,
         "Least severe level that is logged."),
};

_Static_assert(sizeof fxp__config_entries / sizeof fxp__config_entries[0] ==
                   FXP_CONFIG_N_ENTRIES,
               "FXP_CONFIG_N_ENTRIES must match the entry table");

const struct fxp__config_entry *fxp__config_find(const char *name)
{
    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++)
        if (!strcmp(fxp__config_entries[i].name, name))
            return &fxp__config_entries[i];
    return NULL;
}

const char *fxp_config_key(size_t i)
{
    return i < FXP_CONFIG_N_ENTRIES ? fxp__config_entries[i].name : NULL;
}

/* ------------------------------------------------------------------ */
/* Checks of string values (entry.check)                              */

static int check_nonempty(const struct fxp__config_entry *e, const char *v,
                          char *err, size_t len)
{
    if (*v)
        return FXP_OK;
    fxp__config_errf(err, len, "'%s' must not be empty", e->name);
    return FXP_EINVAL;
}

static int check_feed(const struct fxp__config_entry *e, const char *v,
                      char *err, size_t len)
{
    char s[72];
    if (!strcmp(v, "synthetic") || (!strncmp(v, "replay:", 7) && v[7]))
        return FXP_OK;
    fxp__config_errf(err, len,
                     "'%s' must be 'synthetic' or 'replay:FILE', got '%s'",
                     e->name, fxp__config_shown(v, s));
    return FXP_EINVAL;
}

static int check_symbols(const struct fxp__config_entry *e, const char *v,
                         char *err, size_t len)
{
    char s[72], sym[FXP_SYMBOL_MAX];
    const char *p = v;
    if (!*v) {
        fxp__config_errf(err, len, "'%s' must list at least one symbol",
                         e->name);
        return FXP_EINVAL;
    }
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (fxp_symbol_normalize(p, n, sym) != FXP_OK) {
            char item[72];
            snprintf(item, sizeof item, "%.*s", (int)(n < 60 ? n : 60), p);
            fxp__config_errf(
                err, len,
                "'%s' has a bad symbol '%s' in '%s' (expected names like "
                "EURUSD, comma-separated)",
                e->name, item, fxp__config_shown(v, s));
            return FXP_EINVAL;
        }
        if (!comma)
            return FXP_OK;
        p = comma + 1;
    }
}

static int check_time(const struct fxp__config_entry *e, const char *v,
                      char *err, size_t len)
{
    char s[72];
    int64_t ts;
    if (!*v || fxp_time_parse_str(v, &ts) == FXP_OK)
        return FXP_OK;
    fxp__config_errf(
        err, len,
        "'%s' must be empty, an ISO-8601 date/time or Unix milliseconds, "
        "got '%s'",
        e->name, fxp__config_shown(v, s));
    return FXP_EINVAL;
}

static int check_speed(const struct fxp__config_entry *e, const char *v,
                       char *err, size_t len)
{
    char s[72], *end;
    if (!strcmp(v, "max"))
        return FXP_OK;
    errno = 0;
    double d = strtod(v, &end);
    if (*v && !isspace((unsigned char)*v) && !*end && !errno && isfinite(d) &&
        d > 0)
        return FXP_OK;
    fxp__config_errf(
        err, len,
        "'%s' must be 'max' or a number above 0 (1 = real time), got '%s'",
        e->name, fxp__config_shown(v, s));
    return FXP_EINVAL;
}

static int check_timeframes(const struct fxp__config_entry *e, const char *v,
                            char *err, size_t len)
{
    char s[72], item[72];
    unsigned mask;
    const char *bad = NULL;
    if (fxp_tf_parse_list(v, &mask, &bad) == FXP_OK)
        return FXP_OK;
    if (!*v) {
        fxp__config_errf(err, len, "'%s' must not be empty (use 'all')",
                         e->name);
        return FXP_EINVAL;
    }
    if (!bad)
        bad = v;
    size_t n = strcspn(bad, ",");
    snprintf(item, sizeof item, "%.*s", (int)(n < 60 ? n : 60), bad);
    fxp__config_errf(
        err, len,
        "'%s' has an unknown timeframe '%s' in '%s' (expected all, or a "
        "comma-separated list of 1m,5m,15m,30m,1h,4h,1d,1w)",
        e->name, item, fxp__config_shown(v, s));
    return FXP_EINVAL;
}
