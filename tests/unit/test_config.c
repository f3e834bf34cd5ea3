/*
 * test_config.c - the configuration module (config.h): defaults, the
 * precedence defaults < file < environment < command line, every type's
 * errors with file:line, print -> load round trips, FXPIPE_CONFIG and
 * ./fxpipe.ini discovery.
 *
 * Files are written to mkstemp() names under $TMPDIR (or /tmp) and removed
 * by the test that made them; FXPIPE_* variables set by a test are unset
 * by it (and by the group set-up, in case the caller's shell had some).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fxpipe/config.h"
#include "fxpipe/err.h"

/* ------------------------------------------------------------------------
 * Helpers
 */

extern char **environ;

/* Unset every FXPIPE_* variable so the caller's shell cannot leak in. */
static int clean_env(void **state)
{
    (void)state;
    for (;;) {
        char name[256] = "";
        for (char **p = environ; p && *p; p++) {
            if (!strncmp(*p, "FXPIPE_", 7)) {
                size_t n = strcspn(*p, "=");
                if (n < sizeof name) {
                    memcpy(name, *p, n);
                    name[n] = '\0';
                }
                break;
            }
        }
        if (!*name)
            return 0;
        unsetenv(name);
    }
}

/* Write text to a new temporary file; its name goes into path. */
static void write_temp(char *path, size_t len, const char *text)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, len, "%s/fxp_test_config_XXXXXX",
             dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* The value of key as text (a static buffer). */
static const char *get(const struct fxp_config *c, const char *key)
{
    static char buf[2048];
    const char *v = fxp_config_get(c, key, buf, sizeof buf);
    assert_non_null(v);
    return v;
}

static int origin(const struct fxp_config *c, const char *key)
{
    return fxp_config_origin_of(c, key);
}

/* Index of key in the entry table. */
static size_t key_index(const char *key)
{
    for (size_t i = 0; fxp_config_key(i); i++)
        if (!strcmp(fxp_config_key(i), key))
            return i;
    fail_msg("no key '%s'", key);
    return 0;
}

/* ------------------------------------------------------------------------
 * Defaults and the table
 */

static void test_config__defaults_are_the_documented_ones(void **state)
{
    (void)state;
    struct fxp_config c;
    fxp_config_init(&c);

    assert_string_equal(c.store_db, "fxpipe.db");
    assert_int_equal(c.store_busy_timeout_ms, 5000);
    assert_false(c.store_keep_ticks);
    assert_int_equal(c.store_tick_retention_days, 7);
    assert_string_equal(c.feed_feed, "synthetic");
    assert_string_equal(c.feed_symbols, "EURUSD,GBPUSD,USDJPY,XAUUSD");
    assert_string_equal(c.feed_from, "");
    assert_string_equal(c.feed_to, "");
    assert_string_equal(c.feed_speed, "max");
    assert_int_equal(c.feed_seed, 1);
    assert_true(c.feed_quotes_per_sec == 2.0);
    assert_true(c.validate_max_spread_frac == 0.05);
    assert_true(c.validate_max_jump_frac == 0.10);
    assert_string_equal(c.bars_timeframes, "all");
    assert_int_equal(c.bars_session, 0); /* ny-close */
    assert_int_equal(c.bars_price, 0);   /* mid */
    assert_int_equal(c.bars_lateness_ms, 5000);
    assert_string_equal(c.calendar_holidays, "default");
    assert_int_equal(c.pipeline_queue_batches, 16);
    assert_int_equal(c.pipeline_batch_size, 4096);
    assert_int_equal(c.log_level, 2); /* info */
    assert_string_equal(c.file, "");

    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++) {
        assert_int_equal(c.origin[i], FXP_CONFIG_FROM_DEFAULT);
        assert_int_equal(c.origin_line[i], 0);
    }
}

static void test_config__get_gives_text_for_every_type(void **state)
{
    (void)state;
    struct fxp_config c;
    char small[4];
    fxp_config_init(&c);

    assert_string_equal(get(&c, "store.db"), "fxpipe.db");
    assert_string_equal(get(&c, "store.busy_timeout_ms"), "5000");
    assert_string_equal(get(&c, "store.keep_ticks"), "false");
    assert_string_equal(get(&c, "feed.quotes_per_sec"), "2");
    assert_string_equal(get(&c, "feed.from"), "");
    assert_string_equal(get(&c, "validate.max_spread_frac"), "0.05");
    assert_string_equal(get(&c, "validate.max_jump_frac"), "0.1");
    assert_string_equal(get(&c, "bars.session"), "ny-close");
    assert_string_equal(get(&c, "bars.price"), "mid");
    assert_string_equal(get(&c, "log.level"), "info");

    assert_null(fxp_config_get(&c, "store.nope", small, sizeof small));
    assert_null(fxp_config_get(&c, "store.db", small, sizeof small));
    assert_int_equal(origin(&c, "store.nope"), -1);
}

static void test_config__keys_list_every_entry_once(void **state)
{
    (void)state;
    size_t n = 0;
    while (fxp_config_key(n))
        n++;
    assert_int_equal(n, FXP_CONFIG_N_ENTRIES);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(fxp_config_key(i), fxp_config_key(j));
    assert_string_equal(fxp_config_key(0), "store.db");
}

static void test_config__env_names_are_known(void **state)
{
    (void)state;
    assert_true(fxp_config_env_known("FXPIPE_STORE_DB"));
    assert_true(fxp_config_env_known("FXPIPE_STORE_BUSY_TIMEOUT_MS"));
    assert_true(fxp_config_env_known("FXPIPE_PIPELINE_QUEUE_BATCHES"));
    assert_true(fxp_config_env_known("FXPIPE_VALIDATE_MAX_SPREAD_FRAC"));
    assert_true(fxp_config_env_known("FXPIPE_VALIDATE_MAX_JUMP_FRAC"));
    assert_true(fxp_config_env_known("FXPIPE_CONFIG"));
    assert_false(fxp_config_env_known("FXPIPE_STORE_BD"));
    assert_false(fxp_config_env_known("FXPIPE_store_db"));
    assert_false(fxp_config_env_known("STORE_DB"));
}

/* ------------------------------------------------------------------------
 * Precedence
 */

static void test_config__file_overrides_default(void **state)
{
    (void)state;
    struct fxp_config c;
    char path[512], err[512];
    write_temp(path, sizeof path,
               "; a comment\n"
               "[store]\n"
               "db = /var/lib/fxpipe/bars.db\n"
               "keep_ticks = yes\n"
               "\n"
               "[bars]\n"
               "# another comment\n"
               "price = bid   ; inline comment\n"
               "timeframes = 1m,1h,1d\n");
    fxp_config_init(&c);
    int rc = fxp_config_load_file(&c, path, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, FXP_OK);

    assert_string_equal(c.store_db, "/var/lib/fxpipe/bars.db");
    assert_true(c.store_keep_ticks);
    assert_int_equal(c.bars_price, 1);
    assert_string_equal(c.bars_timeframes, "1m,1h,1d");
    assert_string_equal(c.file, path);

    assert_int_equal(origin(&c, "store.db"), FXP_CONFIG_FROM_FILE);
    assert_int_equal(c.origin_line[key_index("store.db")], 3);
    assert_int_equal(c.origin_line[key_index("bars.price")], 8);
    assert_int_equal(origin(&c, "store.busy_timeout_ms"),
                     FXP_CONFIG_FROM_DEFAULT);
    assert_int_equal(c.store_busy_timeout_ms, 5000);
}

static void test_config__env_overrides_file(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512];
    char *envp[] = {
        (char *)"PATH=/usr/bin",
        (char *)"FXPIPE_STORE_DB=env.db",
        (char *)"FXPIPE_BARS_SESSION=utc",
        (char *)"FXPIPE_FEED_QUOTES_PER_SEC=0.5",
        (char *)"FXPIPE_NOT_A_SETTING=1",     /* ignored */
        (char *)"FXPIPE_CONFIG=/nonexistent", /* names the file, ignored here */
        (char *)"FXPIPE_STORE_DB_EXTRA=nothing", /* not FXPIPE_STORE_DB */
        NULL,
    };
    fxp_config_init(&c);
    assert_int_equal(fxp_config_load_string(&c,
                                            "[store]\ndb = file.db\n"
                                            "busy_timeout_ms = 100\n",
                                            "t.ini", err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_config_load_env(&c, envp, err, sizeof err), FXP_OK);

    assert_string_equal(c.store_db, "env.db");
    assert_int_equal(origin(&c, "store.db"), FXP_CONFIG_FROM_ENV);
    assert_int_equal(c.store_busy_timeout_ms, 100);
    assert_int_equal(origin(&c, "store.busy_timeout_ms"), FXP_CONFIG_FROM_FILE);
    assert_int_equal(c.bars_session, 1);
    assert_true(c.feed_quotes_per_sec == 0.5);
}

static void test_config__flag_overrides_env(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512];
    char *envp[] = {(char *)"FXPIPE_STORE_DB=env.db", NULL};
    fxp_config_init(&c);
    assert_int_equal(fxp_config_load_env(&c, envp, err, sizeof err), FXP_OK);
    assert_int_equal(fxp_config_set(&c, "store.db", "flag.db",
                                    FXP_CONFIG_FROM_FLAG, err, sizeof err),
                     FXP_OK);
    assert_string_equal(c.store_db, "flag.db");
    assert_int_equal(origin(&c, "store.db"), FXP_CONFIG_FROM_FLAG);

    assert_int_equal(fxp_config_set(&c, "store.bd", "1", FXP_CONFIG_FROM_FLAG,
                                    err, sizeof err),
                     FXP_ENOENT);
    assert_string_equal(err, "unknown key 'store.bd'; did you mean "
                             "'store.db'?");
}

static void test_config__process_environment_is_the_default_envp(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512];
    fxp_config_init(&c);
    assert_int_equal(setenv("FXPIPE_PIPELINE_BATCH_SIZE", "128", 1), 0);
    assert_int_equal(setenv("FXPIPE_STORE_KEEP_TICKS", "on", 1), 0);
    int rc = fxp_config_load_env(&c, NULL, err, sizeof err);
    unsetenv("FXPIPE_PIPELINE_BATCH_SIZE");
    unsetenv("FXPIPE_STORE_KEEP_TICKS");
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(c.pipeline_batch_size, 128);
    assert_true(c.store_keep_ticks);
}

static void test_config__load_all_follows_fxpipe_config(void **state)
{
    (void)state;
    struct fxp_config c;
    char a[512], b[512], err[512];
    write_temp(a, sizeof a, "[log]\nlevel = debug\n[store]\ndb = a.db\n");
    write_temp(b, sizeof b, "[log]\nlevel = warn\n");

    /* $FXPIPE_CONFIG names the file; the environment still wins. */
    setenv("FXPIPE_CONFIG", a, 1);
    setenv("FXPIPE_STORE_DB", "env.db", 1);
    int rc = fxp_config_load_all(&c, NULL, err, sizeof err);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(c.log_level, 3);
    assert_string_equal(c.store_db, "env.db");
    assert_string_equal(c.file, a);

    /* An explicit path beats $FXPIPE_CONFIG. */
    rc = fxp_config_load_all(&c, b, err, sizeof err);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(c.log_level, 1);
    assert_string_equal(c.file, b);

    /* A missing $FXPIPE_CONFIG file is an error, not a silent default. */
    setenv("FXPIPE_CONFIG", "/nonexistent/fxpipe.ini", 1);
    rc = fxp_config_load_all(&c, NULL, err, sizeof err);
    assert_int_equal(rc, FXP_ENOENT);
    assert_string_equal(err, "cannot open config '/nonexistent/fxpipe.ini': "
                             "No such file or directory");

    /* A bad environment value fails the whole load. */
    unsetenv("FXPIPE_CONFIG");
    setenv("FXPIPE_STORE_DB", "", 1);
    rc = fxp_config_load_all(&c, a, err, sizeof err);
    assert_int_equal(rc, FXP_EINVAL);
    assert_string_equal(err, "environment FXPIPE_STORE_DB: 'store.db' must "
                             "not be empty");

    unsetenv("FXPIPE_STORE_DB");
    unlink(a);
    unlink(b);
}

static void test_config__load_all_finds_fxpipe_ini_in_the_cwd(void **state)
{
    (void)state;
    struct fxp_config c;
    char cwd[PATH_MAX], dir[512], ini[600], err[512];
    const char *tmp = getenv("TMPDIR");
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(dir, sizeof dir, "%s/fxp_test_config_XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);

    /* No file at all: the defaults. */
    assert_int_equal(fxp_config_load_all(&c, NULL, err, sizeof err), FXP_OK);
    assert_string_equal(c.file, "");
    assert_int_equal(c.pipeline_queue_batches, 16);

    snprintf(ini, sizeof ini, "%s/fxpipe.ini", dir);
    FILE *f = fopen(ini, "w");
    assert_non_null(f);
    fputs("[pipeline]\nqueue_batches = 8\n", f);
    assert_int_equal(fclose(f), 0);
    int rc = fxp_config_load_all(&c, NULL, err, sizeof err);

    assert_int_equal(chdir(cwd), 0);
    unlink(ini);
    rmdir(dir);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(c.pipeline_queue_batches, 8);
    assert_string_equal(c.file, "fxpipe.ini");
}

/* ------------------------------------------------------------------------
 * Errors
 */

static const struct {
    const char *text;
    int rc;
    const char *msg;
} bad_files[] = {
    /* int */
    {"[store]\ndb = x.db\n\n\nbusy_timeout_ms = -1\n", FXP_ERANGE,
     "config 'f.ini' line 5: 'store.busy_timeout_ms' must be between 0 and "
     "600000, got '-1'"},
    {"[store]\nbusy_timeout_ms = 5s\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'store.busy_timeout_ms' must be an integer, "
     "got '5s'"},
    {"[store]\nbusy_timeout_ms =\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'store.busy_timeout_ms' must be an integer, "
     "got ''"},
    {"[feed]\nseed = 99999999999999999999\n", FXP_ERANGE,
     "config 'f.ini' line 2: 'feed.seed' must be between 1 and "
     "4611686018427387904, got '99999999999999999999'"},
    {"[pipeline]\nbatch_size = 15\n", FXP_ERANGE,
     "config 'f.ini' line 2: 'pipeline.batch_size' must be between 16 and "
     "1048576, got '15'"},
    /* double */
    {"[feed]\nquotes_per_sec = fast\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'feed.quotes_per_sec' must be a number, got "
     "'fast'"},
    {"[feed]\nquotes_per_sec = nan\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'feed.quotes_per_sec' must be a number, got "
     "'nan'"},
    {"[feed]\nquotes_per_sec = 0\n", FXP_ERANGE,
     "config 'f.ini' line 2: 'feed.quotes_per_sec' must be between 0.01 and "
     "1000, got '0'"},
    {"[validate]\nmax_spread_frac = 1.5\n", FXP_ERANGE,
     "config 'f.ini' line 2: 'validate.max_spread_frac' must be between 0 "
     "and 1, got '1.5'"},
    {"[validate]\nmax_jump_frac = -0.1\n", FXP_ERANGE,
     "config 'f.ini' line 2: 'validate.max_jump_frac' must be between 0 and "
     "10, got '-0.1'"},
    {"[validate]\nmax_jump_frac = 10%\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'validate.max_jump_frac' must be a number, got "
     "'10%'"},
    /* bool */
    {"[store]\nkeep_ticks = maybe\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'store.keep_ticks' must be true or false (or "
     "yes/no, on/off, 1/0), got 'maybe'"},
    /* enum */
    {"[bars]\nprice = last\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'bars.price' must be one of mid, bid, ask, got "
     "'last'"},
    {"[bars]\nsession = london\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'bars.session' must be one of ny-close, utc, "
     "got 'london'"},
    {"[log]\nlevel = trace\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'log.level' must be one of error, warn, info, "
     "debug, got 'trace'"},
    /* strings with a validate hook */
    {"[bars]\ntimeframes = 1m,2m,1h\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'bars.timeframes' has an unknown timeframe '2m' "
     "in '1m,2m,1h' (expected all, or a comma-separated list of "
     "1m,5m,15m,30m,1h,4h,1d,1w)"},
    {"[feed]\nfeed = kafka\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'feed.feed' must be 'synthetic' or "
     "'replay:FILE', got 'kafka'"},
    {"[feed]\nfeed = replay:\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'feed.feed' must be 'synthetic' or "
     "'replay:FILE', got 'replay:'"},
    {"[feed]\nsymbols = EURUSD,,GBPUSD\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'feed.symbols' has a bad symbol '' in "
     "'EURUSD,,GBPUSD' (expected names like EURUSD, comma-separated)"},
    {"[feed]\nsymbols =\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'feed.symbols' must list at least one symbol"},
    {"[feed]\nfrom = yesterday\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'feed.from' must be empty, an ISO-8601 "
     "date/time or Unix milliseconds, got 'yesterday'"},
    {"[feed]\nspeed = 0\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'feed.speed' must be 'max' or a number above 0 "
     "(1 = real time), got '0'"},
    {"[store]\ndb =\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'store.db' must not be empty"},
    {"[calendar]\nholidays = \"\"\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'calendar.holidays' must not be empty"},
    /* keys and syntax */
    {"[pipeline]\n\nqeue_batches = 3\n", FXP_EPARSE,
     "config 'f.ini' line 3: unknown key 'pipeline.qeue_batches'; did you "
     "mean 'pipeline.queue_batches'?"},
    {"[kafka]\nbrokers = localhost\n", FXP_EPARSE,
     "config 'f.ini' line 2: unknown key 'kafka.brokers'"},
    {"db = x.db\n", FXP_EPARSE,
     "config 'f.ini' line 1: key 'db' is not inside a [section] (write it "
     "under '[section]' or as 'section.key' with --set)"},
    {"[store]\nthis is not a setting\n", FXP_EPARSE,
     "config 'f.ini' line 2: expected '[section]' or 'key = value'"},
    {"[store\ndb = x\n", FXP_EPARSE,
     "config 'f.ini' line 1: expected '[section]' or 'key = value'"},
    /* the first error wins, syntax or value */
    {"[store]\nbusy_timeout_ms = x\nnonsense\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'store.busy_timeout_ms' must be an integer, "
     "got 'x'"},
    {"[store]\nnonsense\nbusy_timeout_ms = x\n", FXP_EPARSE,
     "config 'f.ini' line 2: expected '[section]' or 'key = value'"},
    {"[store]\r\nkeep_ticks = 2\r\n", FXP_EINVAL,
     "config 'f.ini' line 2: 'store.keep_ticks' must be true or false (or "
     "yes/no, on/off, 1/0), got '2'"},
};

static void test_config__bad_files_name_file_and_line(void **state)
{
    (void)state;
    char err[512];
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        struct fxp_config c, before;
        fxp_config_init(&c);
        before = c;
        int rc = fxp_config_load_string(&c, bad_files[i].text, "f.ini", err,
                                        sizeof err);
        if (rc != bad_files[i].rc || strcmp(err, bad_files[i].msg))
            fail_msg("case %zu: got %d '%s'\nwant %d '%s'", i, rc, err,
                     bad_files[i].rc, bad_files[i].msg);
        /* Nothing of a failed file is applied. */
        assert_memory_equal(&c, &before, sizeof c);
    }
}

static void test_config__failed_file_leaves_config_unchanged(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512];
    fxp_config_init(&c);
    int rc = fxp_config_load_string(&c,
                                    "[store]\ndb = new.db\n"
                                    "[pipeline]\nbatch_size = 1\n",
                                    "f.ini", err, sizeof err);
    assert_int_equal(rc, FXP_ERANGE);
    assert_string_equal(c.store_db, "fxpipe.db");
    assert_int_equal(origin(&c, "store.db"), FXP_CONFIG_FROM_DEFAULT);
    assert_string_equal(c.file, "");
}

static void test_config__missing_and_unreadable_files(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512], dir[512];
    const char *tmp = getenv("TMPDIR");
    fxp_config_init(&c);

    assert_int_equal(fxp_config_load_file(&c, "x.ini", err, sizeof err),
                     FXP_ENOENT);
    assert_string_equal(
        err, "cannot open config 'x.ini': No such file or directory");

    snprintf(dir, sizeof dir, "%s/fxp_test_config_XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    int rc = fxp_config_load_file(&c, dir, err, sizeof err);
    rmdir(dir);
    assert_int_equal(rc, FXP_EIO);
    assert_non_null(strstr(err, "cannot read config '"));
    assert_non_null(strstr(err, "Is a directory"));
}

static void test_config__overlong_and_binary_lines(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512];
    size_t n = 2100;
    char *text = malloc(n + 32);
    assert_non_null(text);
    size_t k = (size_t)snprintf(text, n + 32, "[store]\ndb = ");
    memset(text + k, 'a', n);
    memcpy(text + k + n, "\n", 2);
    fxp_config_init(&c);
    assert_int_equal(fxp_config_load_string(&c, text, "f.ini", err, sizeof err),
                     FXP_EPARSE);
    assert_string_equal(err, "config 'f.ini' line 2: line is longer than "
                             "2000 characters");
    free(text);

    /* Lines longer than inih's default 200 bytes are read whole. */
    char doc[1200];
    size_t d = (size_t)snprintf(doc, sizeof doc, "[feed]\nsymbols = EURUSD");
    for (int i = 1; i < 140; i++)
        d += (size_t)snprintf(doc + d, sizeof doc - d, ",EURUSD");
    snprintf(doc + d, sizeof doc - d, "\n");
    assert_int_equal(fxp_config_load_string(&c, doc, "f.ini", err, sizeof err),
                     FXP_OK);
    assert_int_equal(strlen(c.feed_symbols), 140 * 7 - 1);

    char path[512];
    write_temp(path, sizeof path, "[store]\n");
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    fwrite("db = a\0b\n", 1, 9, f);
    fclose(f);
    int rc = fxp_config_load_file(&c, path, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, FXP_EPARSE);
    assert_non_null(strstr(err, "line 2: line holds a NUL byte"));
}

static void test_config__too_long_values_are_refused(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512], v[FXP_CONFIG_PATH_MAX + 1];
    fxp_config_init(&c);
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    assert_int_equal(fxp_config_set(&c, "store.db", v, FXP_CONFIG_FROM_FLAG,
                                    err, sizeof err),
                     FXP_ERANGE);
    assert_string_equal(err, "'store.db' is too long (512 characters, at "
                             "most 511)");
    v[511] = '\0';
    assert_int_equal(fxp_config_set(&c, "store.db", v, FXP_CONFIG_FROM_FLAG,
                                    err, sizeof err),
                     FXP_OK);
}

static void test_config__unprintable_values_are_refused(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512];
    fxp_config_init(&c);
    assert_int_equal(fxp_config_set(&c, "store.db", "a ;b", FXP_CONFIG_FROM_ENV,
                                    err, sizeof err),
                     FXP_EINVAL);
    assert_string_equal(err, "'store.db' must not contain ' ;' (it starts a "
                             "comment in a config file)");
    assert_int_equal(fxp_config_set(&c, "store.db", "a\nb", FXP_CONFIG_FROM_ENV,
                                    err, sizeof err),
                     FXP_EINVAL);
    assert_string_equal(err, "'store.db' must not contain control "
                             "characters");
    assert_string_equal(c.store_db, "fxpipe.db");
}

static void test_config__env_errors_name_the_variable(void **state)
{
    (void)state;
    struct fxp_config c, before;
    char err[512];
    char *envp[] = {(char *)"FXPIPE_STORE_DB=ok.db",
                    (char *)"FXPIPE_BARS_PRICE=last", NULL};
    fxp_config_init(&c);
    before = c;
    assert_int_equal(fxp_config_load_env(&c, envp, err, sizeof err),
                     FXP_EINVAL);
    assert_string_equal(err, "environment FXPIPE_BARS_PRICE: 'bars.price' "
                             "must be one of mid, bid, ask, got 'last'");
    assert_memory_equal(&c, &before, sizeof c);
}

static void
test_config__validator_limits_come_from_file_env_and_flag(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512];
    char *envp[] = {(char *)"FXPIPE_VALIDATE_MAX_JUMP_FRAC=0.5", NULL};
    fxp_config_init(&c);
    assert_int_equal(fxp_config_load_string(&c,
                                            "[validate]\n"
                                            "max_spread_frac = 0.02\n"
                                            "max_jump_frac = 0.25\n",
                                            "v.ini", err, sizeof err),
                     FXP_OK);
    assert_true(c.validate_max_spread_frac == 0.02);
    assert_true(c.validate_max_jump_frac == 0.25);
    assert_int_equal(origin(&c, "validate.max_jump_frac"),
                     FXP_CONFIG_FROM_FILE);
    assert_int_equal(c.origin_line[key_index("validate.max_jump_frac")], 3);

    assert_int_equal(fxp_config_load_env(&c, envp, err, sizeof err), FXP_OK);
    assert_true(c.validate_max_jump_frac == 0.5);
    assert_int_equal(origin(&c, "validate.max_jump_frac"), FXP_CONFIG_FROM_ENV);

    /* 0 turns a check off; the ends of the ranges are allowed. */
    assert_int_equal(fxp_config_set(&c, "validate.max_spread_frac", "0",
                                    FXP_CONFIG_FROM_FLAG, err, sizeof err),
                     FXP_OK);
    assert_true(c.validate_max_spread_frac == 0.0);
    assert_int_equal(origin(&c, "validate.max_spread_frac"),
                     FXP_CONFIG_FROM_FLAG);
    assert_int_equal(fxp_config_set(&c, "validate.max_spread_frac", "1",
                                    FXP_CONFIG_FROM_FLAG, err, sizeof err),
                     FXP_OK);
    assert_int_equal(fxp_config_set(&c, "validate.max_jump_frac", "10",
                                    FXP_CONFIG_FROM_FLAG, err, sizeof err),
                     FXP_OK);
    assert_true(c.validate_max_jump_frac == 10.0);
    assert_int_equal(fxp_config_set(&c, "validate.max_jump_frac", "10.5",
                                    FXP_CONFIG_FROM_FLAG, err, sizeof err),
                     FXP_ERANGE);
    assert_true(c.validate_max_jump_frac == 10.0);
    assert_int_equal(fxp_config_set(&c, "validate.max_jump_fac", "1",
                                    FXP_CONFIG_FROM_FLAG, err, sizeof err),
                     FXP_ENOENT);
    assert_string_equal(err,
                        "unknown key 'validate.max_jump_fac'; did you mean "
                        "'validate.max_jump_frac'?");
}

/* ------------------------------------------------------------------------
 * Accepted spellings
 */

static void test_config__bool_and_enum_spellings(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        bool want;
    } bools[] = {{"true", true}, {"yes", true}, {"on", true},     {"1", true},
                 {"TRUE", true}, {"On", true},  {"false", false}, {"no", false},
                 {"off", false}, {"0", false},  {"NO", false}};
    struct fxp_config c;
    char err[512];
    fxp_config_init(&c);
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        c.store_keep_ticks = !bools[i].want;
        assert_int_equal(fxp_config_set(&c, "store.keep_ticks", bools[i].v,
                                        FXP_CONFIG_FROM_FLAG, err, sizeof err),
                         FXP_OK);
        assert_int_equal(c.store_keep_ticks, bools[i].want);
    }
    assert_int_equal(fxp_config_set(&c, "bars.price", "ASK",
                                    FXP_CONFIG_FROM_FLAG, err, sizeof err),
                     FXP_OK);
    assert_int_equal(c.bars_price, 2);
    assert_string_equal(get(&c, "bars.price"), "ask");
}

static void test_config__file_syntax_details(void **state)
{
    (void)state;
    struct fxp_config c;
    char err[512];
    fxp_config_init(&c);
    int rc = fxp_config_load_string(
        &c,
        "\xEF\xBB\xBF# BOM, CRLF, indentation, quotes and ':' separators\r\n"
        "[store]\r\n"
        "  db = \" spaced name.db \"\r\n"
        "  busy_timeout_ms = 250\r\n"
        "[feed]\n"
        "from: 2024-03-04T00:00:00Z\n"
        "to = 1710000000000 ; Unix ms\n"
        "symbols = eur/usd, gbpusd\n"
        "speed = 60\n"
        "[feed]\n"
        "speed = 10\n",
        "f.ini", err, sizeof err);
    assert_int_equal(rc, FXP_OK);
    assert_string_equal(c.store_db, " spaced name.db ");
    /* Indented keys are keys, not continuations of the previous value. */
    assert_int_equal(c.store_busy_timeout_ms, 250);
    assert_string_equal(c.feed_from, "2024-03-04T00:00:00Z");
    assert_string_equal(c.feed_to, "1710000000000");
    assert_string_equal(c.feed_symbols, "eur/usd, gbpusd");
    /* A key given twice: the later line wins. */
    assert_string_equal(c.feed_speed, "10");
    assert_int_equal(c.origin_line[key_index("feed.speed")], 11);
}

/* ------------------------------------------------------------------------
 * Printing
 */

/* Print c into a malloc'ed string. */
static char *print_to_string(const struct fxp_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fxp_config_print(c, f), FXP_OK);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void assert_same_values(const struct fxp_config *a,
                               const struct fxp_config *b)
{
    char va[2048], vb[2048];
    for (size_t i = 0; fxp_config_key(i); i++) {
        const char *k = fxp_config_key(i);
        assert_non_null(fxp_config_get(a, k, va, sizeof va));
        assert_non_null(fxp_config_get(b, k, vb, sizeof vb));
        if (strcmp(va, vb))
            fail_msg("%s: '%s' became '%s'", k, va, vb);
    }
    assert_string_equal(a->store_db, b->store_db);
    assert_true(a->feed_quotes_per_sec == b->feed_quotes_per_sec);
}

static void test_config__print_then_load_gives_the_same_config(void **state)
{
    (void)state;
    static const char *const sets[][2] = {
        {"store.db", " /tmp/with spaces;and;semicolons.db "},
        {"store.busy_timeout_ms", "0"},
        {"store.keep_ticks", "yes"},
        {"store.tick_retention_days", "3650"},
        {"feed.feed", "replay:\"quoted\".csv"},
        {"feed.symbols", "EURUSD,XAUUSD"},
        {"feed.from", "2024-01-07T22:00:00Z"},
        {"feed.speed", "2.5"},
        {"feed.seed", "4611686018427387904"},
        {"feed.quotes_per_sec", "0.1"},
        {"validate.max_spread_frac", "0"},
        {"validate.max_jump_frac", "0.3"},
        {"bars.timeframes", "1m,4h"},
        {"bars.session", "utc"},
        {"bars.price", "ask"},
        {"bars.lateness_ms", "604800000"},
        {"calendar.holidays", ";odd.txt"},
        {"pipeline.queue_batches", "65536"},
        {"pipeline.batch_size", "16"},
        {"log.level", "debug"},
    };
    struct fxp_config a, b;
    char err[512];
    char *envp[] = {(char *)"FXPIPE_FEED_TO=2024-01-12T22:00:00Z", NULL};
    fxp_config_init(&a);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        assert_int_equal(fxp_config_set(&a, sets[i][0], sets[i][1],
                                        FXP_CONFIG_FROM_FLAG, err, sizeof err),
                         FXP_OK);
    assert_int_equal(fxp_config_load_env(&a, envp, err, sizeof err), FXP_OK);

    char *text = print_to_string(&a);
    assert_non_null(strstr(text, "[store]\n"));
    assert_non_null(strstr(text, "[log]\n"));
    assert_non_null(
        strstr(text, "to = 2024-01-12T22:00:00Z  ; from env FXPIPE_FEED_TO\n"));
    assert_non_null(strstr(text, "level = debug  ; from command line\n"));
    assert_non_null(strstr(text, "holidays = \";odd.txt\"  ; from command "
                                 "line\n"));
    assert_non_null(strstr(text, "db = \" /tmp/with spaces;and;semicolons.db "
                                 "\"  ; from command line\n"));

    fxp_config_init(&b);
    int rc = fxp_config_load_string(&b, text, "out.ini", err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("%s\n%s", err, text);
    assert_same_values(&a, &b);
    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++)
        assert_int_equal(b.origin[i], FXP_CONFIG_FROM_FILE);

    /* And once more: the reprint names the file and line of each value. */
    char *again = print_to_string(&b);
    assert_non_null(strstr(again, "; from file 'out.ini' line "));
    free(again);
    free(text);
}

static void test_config__print_defaults_round_trips(void **state)
{
    (void)state;
    struct fxp_config a, b;
    char err[512];
    fxp_config_init(&a);
    char *text = print_to_string(&a);
    assert_non_null(strstr(text, "db = fxpipe.db  ; default\n"));
    assert_non_null(strstr(text, "from =   ; default\n"));
    assert_non_null(strstr(text, "# integer 0..600000; default '5000'; env "
                                 "FXPIPE_STORE_BUSY_TIMEOUT_MS\n"));
    assert_non_null(strstr(text, "# one of mid, bid, ask; default 'mid'"));
    fxp_config_init(&b);
    /* Load over a changed config: every value must come back. */
    b.store_busy_timeout_ms = 1;
    snprintf(b.feed_from, sizeof b.feed_from, "0");
    assert_int_equal(fxp_config_load_string(&b, text, "d.ini", err, sizeof err),
                     FXP_OK);
    assert_same_values(&a, &b);
    free(text);
}

static void test_config__print_flags_a_hand_written_bad_field(void **state)
{
    (void)state;
    struct fxp_config c;
    char buf[64];
    fxp_config_init(&c);
    c.log_level = 9;
    assert_null(fxp_config_get(&c, "log.level", buf, sizeof buf));
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fxp_config_print(&c, f), FXP_EINVAL);
    fclose(f);
}

static void test_config__markdown_has_a_row_per_entry(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0, rows = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fxp_config_print_markdown(f), FXP_OK);
    assert_int_equal(fclose(f), 0);
    for (const char *p = buf; (p = strchr(p, '\n')); p++)
        rows++;
    assert_int_equal(rows, FXP_CONFIG_N_ENTRIES + 2);
    assert_non_null(strstr(buf, "| `store.db` | path or URL | `fxpipe.db` | "
                                "`FXPIPE_STORE_DB` |"));
    assert_non_null(strstr(buf, "| `feed.from` | ISO-8601 or Unix ms | "
                                "(empty) |"));
    assert_non_null(strstr(buf, "| `validate.max_jump_frac` | number 0..10 | "
                                "`0.1` | `FXPIPE_VALIDATE_MAX_JUMP_FRAC` |"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__defaults_are_the_documented_ones),
        cmocka_unit_test(test_config__get_gives_text_for_every_type),
        cmocka_unit_test(test_config__keys_list_every_entry_once),
        cmocka_unit_test(test_config__env_names_are_known),
        cmocka_unit_test(test_config__file_overrides_default),
        cmocka_unit_test(test_config__env_overrides_file),
        cmocka_unit_test(test_config__flag_overrides_env),
        cmocka_unit_test(test_config__process_environment_is_the_default_envp),
        cmocka_unit_test(test_config__load_all_follows_fxpipe_config),
        cmocka_unit_test(test_config__load_all_finds_fxpipe_ini_in_the_cwd),
        cmocka_unit_test(test_config__bad_files_name_file_and_line),
        cmocka_unit_test(test_config__failed_file_leaves_config_unchanged),
        cmocka_unit_test(test_config__missing_and_unreadable_files),
        cmocka_unit_test(test_config__overlong_and_binary_lines),
        cmocka_unit_test(test_config__too_long_values_are_refused),
        cmocka_unit_test(test_config__unprintable_values_are_refused),
        cmocka_unit_test(test_config__env_errors_name_the_variable),
        cmocka_unit_test(
            test_config__validator_limits_come_from_file_env_and_flag),
        cmocka_unit_test(test_config__bool_and_enum_spellings),
        cmocka_unit_test(test_config__file_syntax_details),
        cmocka_unit_test(test_config__print_then_load_gives_the_same_config),
        cmocka_unit_test(test_config__print_defaults_round_trips),
        cmocka_unit_test(test_config__print_flags_a_hand_written_bad_field),
        cmocka_unit_test(test_config__markdown_has_a_row_per_entry),
    };
    return cmocka_run_group_tests(tests, clean_env, NULL);
}
