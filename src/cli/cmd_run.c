/*
 * cmd_run.c - `fxpipe run`: the main job on the embedded default.
 *
 * A live feed (synthetic by default, or a replayed tick file) through
 * validate -> aggregate -> SQLite, all in this process, until the feed
 * ends or SIGINT/SIGTERM; then a clean stop and a summary.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/feed.h"
#include "cli/jobs.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/journal.h"
#include "fxpipe/source.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"

static const char usage_text[] =
    "usage: fxpipe run [options]\n"
    "\n"
    "Run the pipeline in this process: a live feed -> validation ->\n"
    "candles in every timeframe -> the SQLite store. With no options it\n"
    "replays the last complete trading week of a synthetic feed (EURUSD,\n"
    "GBPUSD, USDJPY, XAUUSD) as fast as possible into ./fxpipe.db.\n"
    "SIGINT/SIGTERM stop cleanly (a second one exits at once).\n"
    "\n"
    "options (each also a config entry; see 'fxpipe config'):\n"
    "  -c, --config FILE        configuration file (also $FXPIPE_CONFIG)\n"
    "      --db PATH            database (store.db)\n"
    "      --feed FEED          synthetic | replay:FILE (feed.feed)\n"
    "      --symbols LIST       synthetic symbols (feed.symbols)\n"
    "      --from WHEN          feed start, ISO-8601 or Unix ms (feed.from)\n"
    "      --to WHEN            feed end (feed.to)\n"
    "      --speed N|max        1 = real time, N x faster (feed.speed)\n"
    "      --seed N             synthetic feed seed (feed.seed)\n"
    "      --timeframes LIST    bars to build (bars.timeframes)\n"
    "      --session NAME       ny-close | utc (bars.session)\n"
    "      --price BASIS        mid | bid | ask (bars.price)\n"
    "      --holidays WHICH     default | none | FILE (calendar.holidays)\n"
    "      --keep-ticks         store raw ticks too (store.keep_ticks)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 done, 1 the job failed, 2 bad usage/config, 3 a file\n"
    "or the database is unusable.\n";

/* Flags that are config entries: long option -> entry name. */
static const struct {
    const char *flag, *entry;
} flag_entries[] = {
    {"db", "store.db"},
    {"feed", "feed.feed"},
    {"symbols", "feed.symbols"},
    {"from", "feed.from"},
    {"to", "feed.to"},
    {"speed", "feed.speed"},
    {"seed", "feed.seed"},
    {"timeframes", "bars.timeframes"},
    {"session", "bars.session"},
    {"price", "bars.price"},
    {"holidays", "calendar.holidays"},
};
#define N_FLAG_ENTRIES (sizeof flag_entries / sizeof flag_entries[0])

static void journal_warn(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "run: warning: %s\n", msg);
}

/* fxpipe.db -> fxpipe.journal; other names get ".journal" appended. */
static void default_journal_dir(const char *db, char *out, size_t len)
{
    const char *path = strncmp(db, "sqlite:", 7) ? db : db + 7;
    size_t n = strlen(path);
    if (n > 3 && !strcmp(path + n - 3, ".db"))
        n -= 3;
    snprintf(out, len, "%.*s.journal", (int)n, path);
}

static char run_label[] = "run";

int cmd_run(int argc, char **argv)
{
    struct option opts[N_FLAG_ENTRIES + 4];
    for (size_t i = 0; i < N_FLAG_ENTRIES; i++)
        opts[i] = (struct option){flag_entries[i].flag, required_argument, NULL,
                                  1000 + (int)i};
    opts[N_FLAG_ENTRIES] =
        (struct option){"config", required_argument, NULL, 'c'};
    opts[N_FLAG_ENTRIES + 1] =
        (struct option){"keep-ticks", no_argument, NULL, 'K'};
    opts[N_FLAG_ENTRIES + 2] = (struct option){"help", no_argument, NULL, 'h'};
    opts[N_FLAG_ENTRIES + 3] = (struct option){NULL, 0, NULL, 0};

    /* First pass: --config and --help; flags apply after file and env. */
    const char *config = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        if (c == 'h') {
            fputs(usage_text, stdout);
            return FXP_EXIT_OK;
        }
    }
    opterr = 1;
    struct fxp_config cfg;
    int status = fxp_cli_config_load(&cfg, config, "run");
    if (status != FXP_EXIT_OK)
        return status;
    char err[700];
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c >= 1000) {
            const char *entry = flag_entries[c - 1000].entry;
            if (fxp_config_set(&cfg, entry, optarg, FXP_CONFIG_FROM_FLAG, err,
                               sizeof err)) {
                fxp_cli_error("run", "--%s: %s", flag_entries[c - 1000].flag,
                              err);
                return FXP_EXIT_USAGE;
            }
        } else if (c == 'K') {
            fxp_config_set(&cfg, "store.keep_ticks", "true",
                           FXP_CONFIG_FROM_FLAG, err, sizeof err);
        } else if (c != 'c') {
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fxp_cli_error("run", "unexpected argument '%s'", argv[optind]);
        return FXP_EXIT_USAGE;
    }
    struct fxp_cli_feed rc_ = {0};
    status = fxp_cli_feed_check(&rc_, &cfg, "run");
    if (status != FXP_EXIT_OK)
        return status;

    struct fxp_cli_core core;
    fxp_cli_core_init(&core);
    core.holidays = cfg.calendar_holidays;
    core.session = (fxp_session)cfg.bars_session;
    struct fxp_cli_store cs;
    fxp_cli_store_init(&cs);
    cs.url = cfg.store_db;
    cs.cfg = cfg;
    cs.have_cfg = true;
    struct fxp_symtab *st = NULL;
    struct fxp_journal *journal = NULL;
    char dlq_path[700];
    char jdir[600] = "", feed_id[1300];
    status = FXP_EXIT_IO;
    if (fxp_cli_core_open(&core, "run") != FXP_OK)
        goto done;
    status = fxp_cli_feed_range(&rc_, &core, "run");
    if (status != FXP_EXIT_OK)
        goto done;
    status = fxp_cli_store_open(&cs, "run", true);
    if (status != FXP_EXIT_OK)
        goto done;
    st = fxp_symtab_new(4096);
    if (!st) {
        status = FXP_EXIT_FAIL;
        goto done;
    }
    rc_.st = st;
    struct fxp_pipeline_cfg pc;
    status = fxp_cli_pipeline_cfg(&cfg, &core, "run", &pc);
    if (status != FXP_EXIT_OK)
        goto done;
    pc.agg.source = FXP_SRC_LIVE;
    pc.dlq_path = fxp_cli_dlq_path(&cfg, cs.url, dlq_path, sizeof dlq_path);
    pc.job = "run";

    /* The journal: what feeds it identifies it (a restart with another
     * feed is refused), so a replayed file or the synthetic feed's range
     * and seed are part of the name. */
    if (cfg.journal_enabled) {
        if (cfg.journal_dir[0])
            snprintf(jdir, sizeof jdir, "%s", cfg.journal_dir);
        else
            default_journal_dir(cs.url, jdir, sizeof jdir);
        fxp_cli_feed_id(&rc_, feed_id, sizeof feed_id);
        struct fxp_journal_opts jo;
        fxp_journal_opts_default(&jo);
        jo.fsync = (fxp_fsync_policy)cfg.journal_fsync;
        jo.fsync_every_ms = (int)cfg.journal_fsync_ms;
        jo.retain_bytes = (uint64_t)cfg.journal_retain_mb << 20;
        jo.on_warn = journal_warn;
        if (fxp_journal_open(jdir, &jo, &journal, err, sizeof err) != FXP_OK) {
            fxp_cli_error("run", "%s", err);
            status = FXP_EXIT_IO;
            goto done;
        }
        pc.journal = journal;
        pc.journal_dir = jdir;
        pc.feed_id = feed_id;
    }

    char what[1500];
    fxp_cli_feed_describe(&rc_, what, sizeof what);
    fprintf(stderr, "run: %s -> %s\n", what, cs.url);

    fxp_cli_signals_install();
    struct fxp_pipeline_stats stats;
    int rc = fxp_pipeline_run(&pc, fxp_cli_feed_open, &rc_, 1, st, cs.store,
                              &fxp_cli_stop, fxp_cli_progress, run_label,
                              &stats, err, sizeof err);
    fxp_cli_progress_done();
    if (stats.replayed)
        fprintf(stderr,
                "run: %llu ticks replayed from the journal '%s' (the bars "
                "not final when it last stopped)\n",
                (unsigned long long)stats.replayed, jdir);
    fxp_cli_summary(stderr, "run", &stats);
    if (rc != FXP_OK) {
        fxp_cli_error("run", "%s", err);
        status = rc == FXP_ENOENT ? FXP_EXIT_IO : FXP_EXIT_FAIL;
        goto done;
    }
    if (stats.dead_lettered) {
        fxp_cli_error("run",
                      "%llu batches could not be stored and are in the "
                      "dead-letter file; store them with 'fxpipe dlq replay'",
                      (unsigned long long)stats.dead_lettered);
        status = FXP_EXIT_FAIL;
        goto done;
    }
    if (fxp_cli_stop)
        fprintf(stderr, "run: stopped by signal; everything read so far is "
                        "stored\n");
    fprintf(stderr,
            "run: stored in '%s'. Look at it with:\n"
            "  %s stats --db %s\n"
            "  %s export --db %s --symbol EURUSD --timeframe 1h | head\n"
            "  sqlite3 %s \"select symbol, timeframe, count(*) from bars "
            "group by 1, 2\"\n",
            cs.url, fxp_cli_argv0, cs.url, fxp_cli_argv0, cs.url, cs.url);
    status = FXP_EXIT_OK;
done:
    fxp_journal_close(journal);
    fxp_symtab_free(st);
    fxp_cli_store_close(&cs);
    fxp_cli_core_close(&core);
    return status;
}
