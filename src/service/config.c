/*
 * config.c - the table of settings and everything it drives: defaults,
 * the INI file, FXPIPE_* variables, command-line overrides, validation,
 * `fxpipe config` and the Markdown table in docs/configuration.md.
 *
 * Design notes
 *
 *  1. entries[] is the only list of settings (Redis's static_configs[]).
 *     Adding one is one row here plus its field in struct fxp_config.
 *  2. Defaults are text in the table and go through the same parser as a
 *     value from a file, so a default that fails its own validation trips
 *     an assert in fxp_config_init() the first time any test runs.
 *  3. A file or the environment is applied to a copy, which replaces the
 *     caller's struct only when every value passed: after a failure the
 *     caller still holds what it had.
 *  4. Debian's libinih is built without INI_HANDLER_LINENO, so the handler
 *     never learns the line. The file is therefore fed through our own
 *     reader (ini_parse_stream), which counts physical lines, strips
 *     leading blanks (so an indented key is not taken for a continuation
 *     of the previous value) and rejects an overlong line instead of
 *     letting inih cut it in two. The reader stops at the first error.
 *  5. Every value must survive print -> load unchanged: strings may not
 *     hold control characters or a ';' after a blank (inih starts an
 *     inline comment there). fxp_config_print() wraps a value in double
 *     quotes when it has outer blanks or starts with ';' or '"'; the file
 *     loader removes one pair of enclosing quotes.
 */
#include "fxpipe/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "fxpipe/timeframe.h"

/* Not declared by <unistd.h> under plain _POSIX_C_SOURCE. */
extern char **environ;

/* Longest line of a config file, in characters, newline excluded. Long
 * enough for the longest value (feed.symbols) with its origin comment. */
#define MAX_LINE_CHARS 2000

/* Longest "section.key" and FXPIPE_* name. */
#define MAX_NAME 64

enum type { T_STRING, T_INT, T_DOUBLE, T_BOOL, T_ENUM };

struct entry;
typedef int (*check_fn)(const struct entry *e, const char *v, char *err,
                        size_t len);

struct entry {
    const char *name;         /* "section.key" */
    enum type type;           /* how the text is parsed and stored */
    int64_t min, max;         /* T_INT: inclusive bounds */
    double dmin, dmax;        /* T_DOUBLE: inclusive bounds */
    const char *const *words; /* T_ENUM: allowed words, NULL-terminated */
    const char *def;          /* default, as text */
    size_t off, size;         /* the field in struct fxp_config */
    check_fn check;           /* extra check of a T_STRING, or NULL */
    const char *allowed;      /* T_STRING: allowed values, for the docs */
    const char *help;         /* one sentence */
};

static int check_nonempty(const struct entry *e, const char *v, char *err,
                          size_t len);
static int check_feed(const struct entry *e, const char *v, char *err,
                      size_t len);
static int check_symbols(const struct entry *e, const char *v, char *err,
                         size_t len);
static int check_time(const struct entry *e, const char *v, char *err,
                      size_t len);
static int check_speed(const struct entry *e, const char *v, char *err,
                       size_t len);
static int check_timeframes(const struct entry *e, const char *v, char *err,
                            size_t len);

static const char *const session_words[] = {"ny-close", "utc", NULL};
static const char *const price_words[] = {"mid", "bid", "ask", NULL};
static const char *const level_words[] = {"error", "warn", "info", "debug",
                                          NULL};

#define FIELD(f)                                                               \
    .off = offsetof(struct fxp_config, f),                                     \
    .size = sizeof(((struct fxp_config *)0)->f)

/* One row each: name, [bounds or words,] default, field, [check, allowed,]
 * help. */
#define STRING(nm, dflt, fld, chk, allow, hlp)                                 \
    {                                                                          \
        .name = nm, .type = T_STRING, .def = dflt, FIELD(fld), .check = chk,   \
        .allowed = allow, .help = hlp                                          \
    }
#define INT(nm, lo, hi, dflt, fld, hlp)                                        \
    {                                                                          \
        .name = nm, .type = T_INT, .min = lo, .max = hi, .def = dflt,          \
        FIELD(fld), .help = hlp                                                \
    }
#define DOUBLE(nm, lo, hi, dflt, fld, hlp)                                     \
    {                                                                          \
        .name = nm, .type = T_DOUBLE, .dmin = lo, .dmax = hi, .def = dflt,     \
        FIELD(fld), .help = hlp                                                \
    }
#define BOOL(nm, dflt, fld, hlp)                                               \
    {                                                                          \
        .name = nm, .type = T_BOOL, .def = dflt, FIELD(fld), .help = hlp       \
    }
#define ENUM(nm, wds, dflt, fld, hlp)                                          \
    {                                                                          \
        .name = nm, .type = T_ENUM, .words = wds, .def = dflt, FIELD(fld),     \
        .help = hlp                                                            \
    }

static const struct entry entries[] = {
    /* [store] */
    STRING("store.db", "fxpipe.db", store_db, check_nonempty, "path or URL",
           "SQLite database path (or a store URL)."),
    INT("store.busy_timeout_ms", 0, 600000, "5000", store_busy_timeout_ms,
        "How long a write waits for a locked SQLite database, in ms."),
    BOOL("store.keep_ticks", "false", store_keep_ticks,
         "Also store the raw ticks, not only the bars."),
    INT("store.tick_retention_days", 0, 3650, "7", store_tick_retention_days,
        "Days of raw ticks to keep; 0 = keep forever."),

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

    /* [pipeline] */
    INT("pipeline.queue_batches", 1, 65536, "16", pipeline_queue_batches,
        "Capacity of each stage queue, in batches."),
    INT("pipeline.batch_size", 16, 1048576, "4096", pipeline_batch_size,
        "Records per batch."),

    /* [log] */
    ENUM("log.level", level_words, "info", log_level,
         "Least severe level that is logged."),
};

#define N_ENTRIES (sizeof entries / sizeof entries[0])
_Static_assert(N_ENTRIES == FXP_CONFIG_N_ENTRIES,
               "FXP_CONFIG_N_ENTRIES must match the entry table");

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */

static void errf(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!err || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* A value as it appears in a message: at most 60 characters, control
 * characters as '?'. */
static const char *shown(const char *v, char buf[72])
{
    size_t n = 0;
    for (; v[n] && n < 60; n++)
        buf[n] = iscntrl((unsigned char)v[n]) ? '?' : v[n];
    if (v[n]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static const struct entry *find(const char *name)
{
    for (size_t i = 0; i < N_ENTRIES; i++)
        if (!strcmp(entries[i].name, name))
            return &entries[i];
    return NULL;
}

/* "store.busy_timeout_ms" -> "FXPIPE_STORE_BUSY_TIMEOUT_MS". */
static void env_name(const struct entry *e, char buf[MAX_NAME])
{
    size_t n = (size_t)snprintf(buf, MAX_NAME, "FXPIPE_%s", e->name);
    assert(n < MAX_NAME);
    for (size_t i = 0; i < n; i++)
        buf[i] = buf[i] == '.' ? '_' : (char)toupper((unsigned char)buf[i]);
}

/* Levenshtein distance, or SIZE_MAX for strings too long to bother. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[MAX_NAME + 1];
    if (la > MAX_NAME || lb > MAX_NAME)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* "unknown key 'x'", with a suggestion when one name is close. */
static void unknown_key(const char *name, char *err, size_t len)
{
    const struct entry *best = NULL;
    size_t best_d = 4; /* suggest only within three edits */
    char s[72];
    for (size_t i = 0; i < N_ENTRIES; i++) {
        size_t d = distance(name, entries[i].name);
        if (d < best_d) {
            best_d = d;
            best = &entries[i];
        }
    }
    if (best)
        errf(err, len, "unknown key '%s'; did you mean '%s'?", shown(name, s),
             best->name);
    else
        errf(err, len, "unknown key '%s'", shown(name, s));
}

/* %.15g when it reads back exactly, else %.17g (which always does). */
static void format_double(double d, char *buf, size_t len)
{
    snprintf(buf, len, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, len, "%.17g", d);
}

static void *field(struct fxp_config *c, const struct entry *e)
{
    return (char *)c + e->off;
}

static const void *cfield(const struct fxp_config *c, const struct entry *e)
{
    return (const char *)c + e->off;
}

/* ------------------------------------------------------------------ */
/* Checks of string values (entry.check)                              */

static int check_nonempty(const struct entry *e, const char *v, char *err,
                          size_t len)
{
    if (*v)
        return FXP_OK;
    errf(err, len, "'%s' must not be empty", e->name);
    return FXP_EINVAL;
}

static int check_feed(const struct entry *e, const char *v, char *err,
                      size_t len)
{
    char s[72];
    if (!strcmp(v, "synthetic") || (!strncmp(v, "replay:", 7) && v[7]))
        return FXP_OK;
    errf(err, len, "'%s' must be 'synthetic' or 'replay:FILE', got '%s'",
         e->name, shown(v, s));
    return FXP_EINVAL;
}

static int check_symbols(const struct entry *e, const char *v, char *err,
                         size_t len)
{
    char s[72], sym[FXP_SYMBOL_MAX];
    const char *p = v;
    if (!*v) {
        errf(err, len, "'%s' must list at least one symbol", e->name);
        return FXP_EINVAL;
    }
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (fxp_symbol_normalize(p, n, sym) != FXP_OK) {
            char item[72];
            snprintf(item, sizeof item, "%.*s", (int)(n < 60 ? n : 60), p);
            errf(err, len,
                 "'%s' has a bad symbol '%s' in '%s' (expected names like "
                 "EURUSD, comma-separated)",
                 e->name, item, shown(v, s));
            return FXP_EINVAL;
        }
        if (!comma)
            return FXP_OK;
        p = comma + 1;
    }
}

static int check_time(const struct entry *e, const char *v, char *err,
                      size_t len)
{
    char s[72];
    int64_t ts;
    if (!*v || fxp_time_parse_str(v, &ts) == FXP_OK)
        return FXP_OK;
    errf(err, len,
         "'%s' must be empty, an ISO-8601 date/time or Unix milliseconds, "
         "got '%s'",
         e->name, shown(v, s));
    return FXP_EINVAL;
}

static int check_speed(const struct entry *e, const char *v, char *err,
                       size_t len)
{
    char s[72], *end;
    if (!strcmp(v, "max"))
        return FXP_OK;
    errno = 0;
    double d = strtod(v, &end);
    if (*v && !isspace((unsigned char)*v) && !*end && !errno && isfinite(d) &&
        d > 0)
        return FXP_OK;
    errf(err, len,
         "'%s' must be 'max' or a number above 0 (1 = real time), got '%s'",
         e->name, shown(v, s));
    return FXP_EINVAL;
}

static int check_timeframes(const struct entry *e, const char *v, char *err,
                            size_t len)
{
    char s[72], item[72];
    unsigned mask;
    const char *bad = NULL;
    if (fxp_tf_parse_list(v, &mask, &bad) == FXP_OK)
        return FXP_OK;
    if (!*v) {
        errf(err, len, "'%s' must not be empty (use 'all')", e->name);
        return FXP_EINVAL;
    }
    if (!bad)
        bad = v;
    size_t n = strcspn(bad, ",");
    snprintf(item, sizeof item, "%.*s", (int)(n < 60 ? n : 60), bad);
    errf(err, len,
         "'%s' has an unknown timeframe '%s' in '%s' (expected all, or a "
         "comma-separated list of 1m,5m,15m,30m,1h,4h,1d,1w)",
         e->name, item, shown(v, s));
    return FXP_EINVAL;
}

/* ------------------------------------------------------------------ */
/* Parsing one value                                                  */

static int parse_int(const struct entry *e, const char *v, int64_t *out,
                     char *err, size_t len)
{
    char s[72], *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || isspace((unsigned char)*v) || end == v || *end) {
        errf(err, len, "'%s' must be an integer, got '%s'", e->name,
             shown(v, s));
        return FXP_EINVAL;
    }
    if (errno == ERANGE || x < e->min || x > e->max) {
        errf(err, len,
             "'%s' must be between %" PRId64 " and %" PRId64 ", got '%s'",
             e->name, e->min, e->max, shown(v, s));
        return FXP_ERANGE;
    }
    *out = x;
    return FXP_OK;
}

static int parse_double(const struct entry *e, const char *v, double *out,
                        char *err, size_t len)
{
    char s[72], lo[32], hi[32], *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || isspace((unsigned char)*v) || end == v || *end || !isfinite(d)) {
        errf(err, len, "'%s' must be a number, got '%s'", e->name, shown(v, s));
        return FXP_EINVAL;
    }
    if (d < e->dmin || d > e->dmax) {
        format_double(e->dmin, lo, sizeof lo);
        format_double(e->dmax, hi, sizeof hi);
        errf(err, len, "'%s' must be between %s and %s, got '%s'", e->name, lo,
             hi, shown(v, s));
        return FXP_ERANGE;
    }
    *out = d;
    return FXP_OK;
}

static int parse_bool(const struct entry *e, const char *v, bool *out,
                      char *err, size_t len)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    char s[72];
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return FXP_OK;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return FXP_OK;
        }
    }
    errf(err, len,
         "'%s' must be true or false (or yes/no, on/off, 1/0), got '%s'",
         e->name, shown(v, s));
    return FXP_EINVAL;
}

/* "mid, bid, ask" (cut short if len is too small). */
static void join_words(const struct entry *e, const char *sep, char *buf,
                       size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; e->words[i]; i++) {
        int k = snprintf(buf + n, len - n, "%s%s", i ? sep : "", e->words[i]);
        if (k < 0 || (size_t)k >= len - n)
            break;
        n += (size_t)k;
    }
}

static int parse_enum(const struct entry *e, const char *v, int *out, char *err,
                      size_t len)
{
    char s[72], list[128];
    for (int i = 0; e->words[i]; i++) {
        if (!strcasecmp(v, e->words[i])) {
            *out = i;
            return FXP_OK;
        }
    }
    join_words(e, ", ", list, sizeof list);
    errf(err, len, "'%s' must be one of %s, got '%s'", e->name, list,
         shown(v, s));
    return FXP_EINVAL;
}

static int check_string(const struct entry *e, const char *v, char *err,
                        size_t len)
{
    size_t n = strlen(v);
    if (n >= e->size) {
        errf(err, len, "'%s' is too long (%zu characters, at most %zu)",
             e->name, n, e->size - 1);
        return FXP_ERANGE;
    }
    for (size_t i = 0; i < n; i++) {
        if (iscntrl((unsigned char)v[i])) {
            errf(err, len, "'%s' must not contain control characters", e->name);
            return FXP_EINVAL;
        }
        if (v[i] == ';' && i > 0 && v[i - 1] == ' ') {
            errf(err, len,
                 "'%s' must not contain ' ;' (it starts a comment in a "
                 "config file)",
                 e->name);
            return FXP_EINVAL;
        }
    }
    return e->check ? e->check(e, v, err, len) : FXP_OK;
}

/* Parse v for entry e and store it into c; c is untouched on failure. */
static int apply(struct fxp_config *c, const struct entry *e, const char *v,
                 char *err, size_t len)
{
    int rc;
    switch (e->type) {
    case T_STRING:
        rc = check_string(e, v, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), v, strlen(v) + 1);
        return rc;
    case T_INT: {
        int64_t x;
        rc = parse_int(e, v, &x, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), &x, sizeof x);
        return rc;
    }
    case T_DOUBLE: {
        double d;
        rc = parse_double(e, v, &d, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), &d, sizeof d);
        return rc;
    }
    case T_BOOL: {
        bool b;
        rc = parse_bool(e, v, &b, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), &b, sizeof b);
        return rc;
    }
    case T_ENUM: {
        int i;
        rc = parse_enum(e, v, &i, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), &i, sizeof i);
        return rc;
    }
    }
    assert(!"unknown entry type");
    return FXP_EINVAL;
}

static void set_origin(struct fxp_config *c, const struct entry *e, int origin,
                       int line)
{
    size_t i = (size_t)(e - entries);
    c->origin[i] = (unsigned char)origin;
    c->origin_line[i] = line;
}

/* The value of e in c as text; the length, or -1 if it does not fit. */
static int value_text(const struct fxp_config *c, const struct entry *e,
                      char *buf, size_t len)
{
    const void *p = cfield(c, e);
    int n = -1;
    switch (e->type) {
    case T_STRING:
        /* The struct is public: do not trust a NUL to be there. */
        if (memchr(p, '\0', e->size))
            n = snprintf(buf, len, "%s", (const char *)p);
        break;
    case T_INT: {
        int64_t x;
        memcpy(&x, p, sizeof x);
        n = snprintf(buf, len, "%" PRId64, x);
        break;
    }
    case T_DOUBLE: {
        double d;
        char tmp[40];
        memcpy(&d, p, sizeof d);
        format_double(d, tmp, sizeof tmp);
        n = snprintf(buf, len, "%s", tmp);
        break;
    }
    case T_BOOL: {
        bool b;
        memcpy(&b, p, sizeof b);
        n = snprintf(buf, len, "%s", b ? "true" : "false");
        break;
    }
    case T_ENUM: {
        int i, n_words = 0;
        memcpy(&i, p, sizeof i);
        while (e->words[n_words])
            n_words++;
        if (i >= 0 && i < n_words)
            n = snprintf(buf, len, "%s", e->words[i]);
        break;
    }
    }
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* ------------------------------------------------------------------ */
/* Public: init, set, get                                             */

void fxp_config_init(struct fxp_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_ENTRIES; i++) {
        const struct entry *e = &entries[i];
        char err[256];
        assert(e->type != T_INT || e->size == sizeof(int64_t));
        assert(e->type != T_DOUBLE || e->size == sizeof(double));
        assert(e->type != T_BOOL || e->size == sizeof(bool));
        assert(e->type != T_ENUM || e->size == sizeof(int));
        assert(strlen(e->name) + sizeof "FXPIPE_" <= MAX_NAME);
        int rc = apply(c, e, e->def, err, sizeof err);
        assert(rc == FXP_OK && "a default fails its own validation");
        (void)rc;
        set_origin(c, e, FXP_CONFIG_FROM_DEFAULT, 0);
    }
}

int fxp_config_set(struct fxp_config *c, const char *name, const char *value,
                   int origin, char *errbuf, size_t errlen)
{
    assert(origin >= FXP_CONFIG_FROM_DEFAULT && origin <= FXP_CONFIG_FROM_FLAG);
    const struct entry *e = find(name);
    if (!e) {
        unknown_key(name, errbuf, errlen);
        return FXP_ENOENT;
    }
    int rc = apply(c, e, value, errbuf, errlen);
    if (rc == FXP_OK)
        set_origin(c, e, origin, 0);
    return rc;
}

const char *fxp_config_get(const struct fxp_config *c, const char *name,
                           char *buf, size_t len)
{
    const struct entry *e = find(name);
    if (!e || len == 0 || value_text(c, e, buf, len) < 0)
        return NULL;
    return buf;
}

int fxp_config_origin_of(const struct fxp_config *c, const char *name)
{
    const struct entry *e = find(name);
    return e ? c->origin[e - entries] : -1;
}

const char *fxp_config_key(size_t i)
{
    return i < N_ENTRIES ? entries[i].name : NULL;
}

/* ------------------------------------------------------------------ */
/* The INI file                                                       */

struct file_ctx {
    struct fxp_config *c; /* the copy being filled */
    FILE *f;              /* input: a file, or */
    const char *text;     /* the rest of a string */
    const char *name;     /* file name for messages */
    int lineno;           /* physical line last handed to inih */
    int err_line;         /* line of the first error seen here; 0 = none */
    int rc;               /* its code */
    int io_errno;         /* errno of a read error, 0 = none */
    char msg[512];        /* its message, without "config 'f' line N: " */
    char line[MAX_LINE_CHARS + 1];
};

static void file_error(struct file_ctx *x, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void file_error(struct file_ctx *x, int rc, const char *fmt, ...)
{
    va_list ap;
    if (x->err_line)
        return;
    x->err_line = x->lineno;
    x->rc = rc;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
}

static int next_char(struct file_ctx *x)
{
    if (!x->f)
        return *x->text ? (unsigned char)*x->text++ : EOF;
    int ch = getc(x->f);
    if (ch == EOF && ferror(x->f))
        x->io_errno = errno ? errno : EIO;
    return ch;
}

/* Read one physical line into x->line, without its newline. Returns 0 at
 * the end of the input, 1 for a line, -1 for an overlong line and -2 for
 * a line holding a NUL byte. */
static int read_line(struct file_ctx *x)
{
    size_t n = 0;
    int ch = next_char(x);
    if (ch == EOF)
        return 0;
    for (; ch != EOF && ch != '\n'; ch = next_char(x)) {
        if (ch == '\0')
            return -2;
        if (n == MAX_LINE_CHARS)
            return -1;
        x->line[n++] = (char)ch;
    }
    x->line[n] = '\0';
    return 1;
}

/* The ini_reader: hands inih one physical line at a time (see note 4). */
static char *reader(char *str, int num, void *stream)
{
    struct file_ctx *x = stream;
    if (x->err_line || x->io_errno)
        return NULL;
    int st = read_line(x);
    if (st == 0 || x->io_errno)
        return NULL;
    x->lineno++;
    if (st == -1) {
        file_error(x, FXP_EPARSE, "line is longer than %d characters",
                   MAX_LINE_CHARS);
        return NULL;
    }
    if (st == -2) {
        file_error(x, FXP_EPARSE, "line holds a NUL byte (not a text file?)");
        return NULL;
    }
    const char *s = x->line;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    if (num < 2 || n > (size_t)num - 2) {
        /* inih's own buffer is smaller than ours (see raise_line_limit). */
        file_error(x, FXP_EPARSE, "line is longer than %d characters", num - 2);
        return NULL;
    }
    memcpy(str, s, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

/* The ini_handler: one "key = value" of one [section]. */
static int handler(void *user, const char *section, const char *key,
                   const char *value)
{
    struct file_ctx *x = user;
    char name[2 * MAX_NAME], s[72];
    const struct entry *e = NULL;
    if (x->err_line)
        return 0;
    if (!*section) {
        file_error(x, FXP_EPARSE,
                   "key '%s' is not inside a [section] (write it under "
                   "'[section]' or as 'section.key' with --set)",
                   shown(key, s));
        return 0;
    }
    int n = snprintf(name, sizeof name, "%s.%s", section, key);
    if (n > 0 && (size_t)n < sizeof name)
        e = find(name);
    if (!e) {
        char msg[256];
        unknown_key(name, msg, sizeof msg);
        file_error(x, FXP_EPARSE, "%s", msg);
        return 0;
    }
    /* Remove one pair of enclosing double quotes (note 5). */
    size_t len = strlen(value);
    char v[MAX_LINE_CHARS + 1];
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
        memcpy(v, value + 1, len - 2);
        v[len - 2] = '\0';
    } else {
        memcpy(v, value, len + 1);
    }
    char msg[512];
    int rc = apply(x->c, e, v, msg, sizeof msg);
    if (rc != FXP_OK) {
        file_error(x, rc, "%s", msg);
        return 0;
    }
    set_origin(x->c, e, FXP_CONFIG_FROM_FILE, x->lineno);
    return 1;
}

static pthread_once_t line_limit_once = PTHREAD_ONCE_INIT;

/* inih reads lines into a buffer of ini_max_line bytes (200 unless told
 * otherwise; Debian's build exposes the setting). Make room for ours once,
 * before any parse. Only this module uses inih. */
static void raise_line_limit(void)
{
    if (ini_max_line < MAX_LINE_CHARS + 2)
        ini_max_line = MAX_LINE_CHARS + 2;
}

static int load(struct fxp_config *c, struct file_ctx *x, char *errbuf,
                size_t errlen)
{
    struct fxp_config tmp = *c;
    x->c = &tmp;
    pthread_once(&line_limit_once, raise_line_limit);
    int ret = ini_parse_stream(reader, x, handler, x);
    if (x->io_errno) {
        errf(errbuf, errlen, "cannot read config '%s': %s", x->name,
             strerror(x->io_errno));
        return FXP_EIO;
    }
    if (ret < 0) {
        errf(errbuf, errlen, "cannot read config '%s': %s", x->name,
             fxp_strerror(FXP_ENOMEM));
        return FXP_ENOMEM;
    }
    if (ret > 0 && (x->err_line == 0 || ret < x->err_line)) {
        errf(errbuf, errlen,
             "config '%s' line %d: expected '[section]' or 'key = value'",
             x->name, ret);
        return FXP_EPARSE;
    }
    if (x->err_line) {
        errf(errbuf, errlen, "config '%s' line %d: %s", x->name, x->err_line,
             x->msg);
        return x->rc;
    }
    snprintf(tmp.file, sizeof tmp.file, "%s", x->name);
    *c = tmp;
    return FXP_OK;
}

int fxp_config_load_file(struct fxp_config *c, const char *path, char *errbuf,
                         size_t errlen)
{
    struct file_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        errf(errbuf, errlen, "cannot read config '%s': %s", path,
             fxp_strerror(FXP_ENOMEM));
        return FXP_ENOMEM;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        errf(errbuf, errlen, "cannot open config '%s': %s", path, strerror(e));
        free(x);
        return e == ENOENT ? FXP_ENOENT : FXP_EIO;
    }
    x->f = f;
    x->name = path;
    int rc = load(c, x, errbuf, errlen);
    fclose(f);
    free(x);
    return rc;
}

int fxp_config_load_string(struct fxp_config *c, const char *text,
                           const char *name, char *errbuf, size_t errlen)
{
    struct file_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        errf(errbuf, errlen, "cannot read config '%s': %s", name,
             fxp_strerror(FXP_ENOMEM));
        return FXP_ENOMEM;
    }
    x->text = text;
    x->name = name;
    int rc = load(c, x, errbuf, errlen);
    free(x);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The environment                                                    */

static const char *env_lookup(char *const *envp, const char *var)
{
    size_t n = strlen(var);
    for (char *const *p = envp; *p; p++)
        if (!strncmp(*p, var, n) && (*p)[n] == '=')
            return *p + n + 1;
    return NULL;
}

int fxp_config_load_env(struct fxp_config *c, char *const *envp, char *errbuf,
                        size_t errlen)
{
    struct fxp_config tmp = *c;
    char var[MAX_NAME], msg[512];
    if (!envp)
        envp = environ;
    if (!envp)
        return FXP_OK;
    for (size_t i = 0; i < N_ENTRIES; i++) {
        const struct entry *e = &entries[i];
        env_name(e, var);
        const char *v = env_lookup(envp, var);
        if (!v)
            continue;
        int rc = apply(&tmp, e, v, msg, sizeof msg);
        if (rc != FXP_OK) {
            errf(errbuf, errlen, "environment %s: %s", var, msg);
            return rc;
        }
        set_origin(&tmp, e, FXP_CONFIG_FROM_ENV, 0);
    }
    *c = tmp;
    return FXP_OK;
}

bool fxp_config_env_known(const char *var)
{
    char name[MAX_NAME];
    if (!strcmp(var, "FXPIPE_CONFIG"))
        return true;
    for (size_t i = 0; i < N_ENTRIES; i++) {
        env_name(&entries[i], name);
        if (!strcmp(var, name))
            return true;
    }
    return false;
}

int fxp_config_load_all(struct fxp_config *c, const char *path_or_null,
                        char *errbuf, size_t errlen)
{
    struct fxp_config tmp;
    int rc;
    fxp_config_init(&tmp);
    fxp_config_init(c);
    const char *path = path_or_null;
    if (!path) {
        const char *env = getenv("FXPIPE_CONFIG");
        if (env && *env)
            path = env;
    }
    if (path) {
        rc = fxp_config_load_file(&tmp, path, errbuf, errlen);
    } else {
        rc = fxp_config_load_file(&tmp, "fxpipe.ini", errbuf, errlen);
        if (rc == FXP_ENOENT) {
            rc = FXP_OK;
            if (errbuf && errlen)
                errbuf[0] = '\0';
        }
    }
    if (rc == FXP_OK)
        rc = fxp_config_load_env(&tmp, NULL, errbuf, errlen);
    if (rc == FXP_OK)
        *c = tmp;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Printing                                                           */

/* "integer 0..600000", "one of mid, bid, ask", ... into buf. */
static void describe(const struct entry *e, char *buf, size_t len)
{
    char lo[32], hi[32], list[128];
    switch (e->type) {
    case T_STRING:
        snprintf(buf, len, "%s", e->allowed ? e->allowed : "text");
        break;
    case T_INT:
        snprintf(buf, len, "integer %" PRId64 "..%" PRId64, e->min, e->max);
        break;
    case T_DOUBLE:
        format_double(e->dmin, lo, sizeof lo);
        format_double(e->dmax, hi, sizeof hi);
        snprintf(buf, len, "number %s..%s", lo, hi);
        break;
    case T_BOOL:
        snprintf(buf, len, "true or false");
        break;
    case T_ENUM:
        join_words(e, ", ", list, sizeof list);
        snprintf(buf, len, "one of %s", list);
        break;
    }
}

/* Does text need quotes to read back the same (note 5)? */
static bool needs_quotes(const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return false;
    return v[0] == ' ' || v[n - 1] == ' ' || v[0] == ';' || v[0] == '"';
}

/* A file name inside a comment: control characters as '?'. */
static void put_name(const char *s, FILE *f)
{
    for (; *s; s++)
        fputc(iscntrl((unsigned char)*s) ? '?' : *s, f);
}

int fxp_config_print(const struct fxp_config *c, FILE *f)
{
    char value[FXP_CONFIG_LIST_MAX + 8], what[160], var[MAX_NAME];
    const char *section = "";
    size_t section_len = 0;
    int rc = FXP_OK;

    fputs("# fxpipe configuration: the effective value of every setting and\n"
          "# where it came from. Save this as fxpipe.ini to reuse it.\n"
          "# Precedence, lowest first: built-in defaults < config file <\n"
          "# FXPIPE_* environment < command line.\n",
          f);
    for (size_t i = 0; i < N_ENTRIES; i++) {
        const struct entry *e = &entries[i];
        const char *dot = strchr(e->name, '.');
        size_t sl = (size_t)(dot - e->name);
        if (sl != section_len || strncmp(section, e->name, sl)) {
            fprintf(f, "\n[%.*s]\n", (int)sl, e->name);
            section = e->name;
            section_len = sl;
        } else {
            fputc('\n', f);
        }
        describe(e, what, sizeof what);
        env_name(e, var);
        fprintf(f, "# %s\n# %s; default '%s'; env %s\n", e->help, what, e->def,
                var);
        if (value_text(c, e, value, sizeof value) < 0) {
            /* Only a struct written by hand gets here. */
            fprintf(f, "; %s: invalid value in struct fxp_config\n", dot + 1);
            rc = FXP_EINVAL;
            continue;
        }
        const char *q = needs_quotes(value) ? "\"" : "";
        fprintf(f, "%s = %s%s%s  ; ", dot + 1, q, value, q);
        switch (c->origin[i]) {
        case FXP_CONFIG_FROM_FILE:
            fputs("from file '", f);
            put_name(c->file, f);
            if (c->origin_line[i] > 0)
                fprintf(f, "' line %d\n", c->origin_line[i]);
            else
                fputs("'\n", f);
            break;
        case FXP_CONFIG_FROM_ENV:
            fprintf(f, "from env %s\n", var);
            break;
        case FXP_CONFIG_FROM_FLAG:
            fputs("from command line\n", f);
            break;
        default:
            fputs("default\n", f);
            break;
        }
    }
    return ferror(f) ? FXP_EIO : rc;
}

/* Markdown text with '|' escaped. */
static void put_md(const char *s, FILE *f)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

int fxp_config_print_markdown(FILE *f)
{
    char what[160], var[MAX_NAME];
    fputs("| Key | Type and range | Default | Environment | Description |\n"
          "|-----|----------------|---------|-------------|-------------|\n",
          f);
    for (size_t i = 0; i < N_ENTRIES; i++) {
        const struct entry *e = &entries[i];
        describe(e, what, sizeof what);
        env_name(e, var);
        fprintf(f, "| `%s` | ", e->name);
        put_md(what, f);
        fputs(" | ", f);
        if (*e->def) {
            fputc('`', f);
            put_md(e->def, f);
            fputc('`', f);
        } else {
            fputs("(empty)", f);
        }
        fprintf(f, " | `%s` | ", var);
        put_md(e->help, f);
        fputs(" |\n", f);
    }
    return ferror(f) ? FXP_EIO : FXP_OK;
}
