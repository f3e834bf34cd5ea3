/*
 * config.h - fxpipe's settings: one table of entries
 * (src/service/config_table.c) drives the defaults, the INI file
 * (libinih), the FXPIPE_* environment, command-line overrides, validation
 * and `fxpipe config`.
 *
 * Precedence, lowest first: built-in defaults < INI file < FXPIPE_*
 * environment < command line. Entry "store.busy_timeout_ms" is key
 * busy_timeout_ms in section [store] and variable
 * FXPIPE_STORE_BUSY_TIMEOUT_MS. This module only reads and checks
 * settings; opening what they name (databases, holiday files) is the
 * business of the modules that use them.
 */
#ifndef FXPIPE_CONFIG_H
#define FXPIPE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FXP_CONFIG_N_ENTRIES 50   /* rows of the entry table */
#define FXP_CONFIG_PATH_MAX  512  /* bytes of a path setting, NUL included */
#define FXP_CONFIG_LIST_MAX  1024 /* bytes of feed.symbols, NUL included */

/* Where the current value of an entry came from. */
typedef enum fxp_config_origin {
    FXP_CONFIG_FROM_DEFAULT = 0, /* built in */
    FXP_CONFIG_FROM_FILE,        /* the INI file (see fxp_config.file) */
    FXP_CONFIG_FROM_ENV,         /* an FXPIPE_* environment variable */
    FXP_CONFIG_FROM_FLAG         /* the command line */
} fxp_config_origin;

/* The effective configuration: a plain value, copy it freely. Enum entries
 * hold the index of their word, in the order listed. */
struct fxp_config {
    /* [store] */
    char store_db[FXP_CONFIG_PATH_MAX];  /* SQLite path or a store URL */
    int64_t store_busy_timeout_ms;       /* SQLite busy timeout */
    bool store_keep_ticks;               /* also store raw ticks */
    int64_t store_tick_retention_days;   /* 0 = keep forever */
    char store_dlq[FXP_CONFIG_PATH_MAX]; /* "" = <db>.dlq, "none" = off */
    int64_t store_retry_attempts;        /* the first included */
    int64_t store_retry_base_ms;
    int64_t store_retry_max_ms;
    int64_t store_breaker_threshold;
    int64_t store_breaker_open_ms;
    int64_t store_stop_deadline_ms;

    /* [feed] */
    char feed_feed[FXP_CONFIG_PATH_MAX];    /* "synthetic" | "replay:FILE" */
    char feed_symbols[FXP_CONFIG_LIST_MAX]; /* "EURUSD,GBPUSD,..." */
    char feed_from[64];         /* ISO-8601 or Unix ms; "" = last week */
    char feed_to[64];           /* exclusive; "" = end of last week */
    char feed_speed[32];        /* "max" or a factor (1 = real time) */
    int64_t feed_seed;          /* synthetic feed's random seed */
    double feed_quotes_per_sec; /* synthetic quotes per second per symbol */

    /* [validate] */
    double validate_max_spread_frac; /* reject (ask-bid)/mid above; 0 off */
    double validate_max_jump_frac;   /* reject a mid move above; 0 off */

    /* [bars] */
    char bars_timeframes[128]; /* fxp_tf_parse_list() text, or "all" */
    int bars_session;          /* fxp_session: 0 ny-close, 1 utc */
    int bars_price;            /* fxp_price: 0 mid, 1 bid, 2 ask */
    int64_t bars_lateness_ms;  /* how long a bar waits for late ticks */

    /* [calendar] */
    char calendar_holidays[FXP_CONFIG_PATH_MAX]; /* default | none | FILE */

    /* [gaps] */
    int64_t gaps_lookback_days;     /* --serve range when none is given */
    double gaps_intraday_threshold; /* complete at >= this (1m..4h) */
    double gaps_daily_threshold;    /* complete at >= this (1d, 1w) */
    int64_t gaps_max_attempts;      /* before needs-review */

    /* [polygon] */
    char polygon_base_url[FXP_CONFIG_PATH_MAX];
    char polygon_api_key_file[FXP_CONFIG_PATH_MAX]; /* "" = env only */
    double polygon_rate_limit;  /* requests per minute, 0 = none */
    int64_t polygon_timeout_ms; /* per request */

    /* [journal] */
    bool journal_enabled;
    char journal_dir[FXP_CONFIG_PATH_MAX]; /* "" = <db>.journal */
    int journal_fsync;                     /* fxp_fsync_policy */
    int64_t journal_fsync_ms;
    int64_t journal_retain_mb;

    /* [pipeline] */
    int64_t pipeline_queue_batches; /* capacity of a stage queue, batches */
    int64_t pipeline_batch_size;    /* records per batch */
    int64_t pipeline_pause_warn_ms; /* backpressure warning, 0 = never */

    /* [bus] and the services (distributed mode) */
    char bus_url[FXP_CONFIG_PATH_MAX]; /* "" = --bus or $FXPIPE_BUS */
    char bus_prefix[64];               /* subject / topic prefix */
    char ingest_journal[FXP_CONFIG_PATH_MAX];
    char ingest_health[64]; /* "" = no health server */
    char aggregate_journal[FXP_CONFIG_PATH_MAX];
    char aggregate_health[64];
    char bridge_stores[FXP_CONFIG_LIST_MAX]; /* comma-separated store URLs */
    char bridge_health[64];

    /* [log] */
    int log_level; /* 0 error, 1 warn, 2 info, 3 debug */

    /* Provenance, indexed like the entry table (see fxp_config_key()). */
    unsigned char origin[FXP_CONFIG_N_ENTRIES]; /* fxp_config_origin */
    int origin_line[FXP_CONFIG_N_ENTRIES];      /* file line, or 0 */
    char file[FXP_CONFIG_PATH_MAX]; /* last file loaded; "" for none */
};

/* Building a configuration. None of these print; on failure they write a
 * one-line message into errbuf and leave *c exactly as it was (a file or
 * the environment is applied whole or not at all). Any thread, one at a
 * time per struct. */

/* Set every entry to its built-in default. Can't fail. */
void fxp_config_init(struct fxp_config *c);

/* Apply the INI file at path over *c. Returns FXP_OK; FXP_ENOENT for a
 * missing file ("cannot open config 'x.ini': No such file or directory");
 * FXP_EIO when it cannot be read; FXP_EPARSE for a syntax error, an
 * unknown key or an overlong line; FXP_EINVAL / FXP_ERANGE for a bad
 * value. Messages name the file and line:
 * "config 'f.ini' line 5: 'store.busy_timeout_ms' must be between 0 and
 * 600000, got '-1'". */
int fxp_config_load_file(struct fxp_config *c, const char *path, char *errbuf,
                         size_t errlen);

/* Apply INI text held in memory; name stands for the file in messages. */
int fxp_config_load_string(struct fxp_config *c, const char *text,
                           const char *name, char *errbuf, size_t errlen);

/* Apply the FXPIPE_* variables of envp ("NAME=value" strings, NULL
 * terminated; NULL means the process environment). Variables that name
 * no entry are ignored, as is FXPIPE_CONFIG (it names the file). Returns
 * FXP_OK or the error of the first bad value, as "environment
 * FXPIPE_STORE_BUSY_TIMEOUT_MS: ...". */
int fxp_config_load_env(struct fxp_config *c, char *const *envp, char *errbuf,
                        size_t errlen);

/* Set entry name ("store.db") from text, validated as in a file, and
 * record origin (an fxp_config_origin). Returns FXP_OK, FXP_ENOENT for an
 * unknown name, FXP_EINVAL / FXP_ERANGE for a bad value. */
int fxp_config_set(struct fxp_config *c, const char *name, const char *value,
                   int origin, char *errbuf, size_t errlen);

/* fxp_config_init(), then one file: path if not NULL, else
 * $FXPIPE_CONFIG if set and not empty, else ./fxpipe.ini if it exists,
 * else none; then the process environment. Returns as those do; on
 * failure *c holds the defaults. */
int fxp_config_load_all(struct fxp_config *c, const char *path_or_null,
                        char *errbuf, size_t errlen);

/* Reading a configuration. */

/* The value of entry name as text (what fxp_config_set() accepts) in buf.
 * Returns buf, or NULL for an unknown name or when len is too small. */
const char *fxp_config_get(const struct fxp_config *c, const char *name,
                           char *buf, size_t len);

/* The origin of entry name's value (fxp_config_origin), -1 if unknown. */
int fxp_config_origin_of(const struct fxp_config *c, const char *name);

/* Name of entry i ("store.db"), NULL when i >= FXP_CONFIG_N_ENTRIES. */
const char *fxp_config_key(size_t i);

/* True when var ("FXPIPE_STORE_DB") is a variable this module reads,
 * FXPIPE_CONFIG included: lets a command warn about misspelt ones. */
bool fxp_config_env_known(const char *var);

/* Write *c as an INI file that fxp_config_load_file() reads back to the
 * same values: a [section] per group, each entry's help as a comment and
 * its origin as an inline comment ("db = x.db  ; from env
 * FXPIPE_STORE_DB"). Returns FXP_OK, FXP_EIO when f reports an error, or
 * FXP_EINVAL when a field written by hand holds no valid value (it is
 * printed as a comment). */
int fxp_config_print(const struct fxp_config *c, FILE *f);

/* Write the entry table as a Markdown table (docs/configuration.md).
 * Returns FXP_OK or FXP_EIO. */
int fxp_config_print_markdown(FILE *f);

#endif
