/*
 * cmd_download.c - `fxpipe download`: the historical downloader. Fetches
 * 1m bars (Polygon REST, or bar files) for what the ledger says is
 * missing, stores them, rebuilds the higher timeframes, verifies, records.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/fetch.h"
#include "cli/jobs.h"
#include "fxpipe/backfill.h"
#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"

static const char usage_text[] =
    "usage: fxpipe download --source polygon --symbol S... --from WHEN "
    "--to WHEN [options]\n"
    "\n"
    "Download 1-minute bars for the days the period ledger does not have\n"
    "yet, validate and store them, rebuild 5m..1w for the weeks touched and\n"
    "verify them in the store. Resumable: run it again after a crash.\n"
    "The Polygon API key comes from POLYGON_API_KEY and is never printed.\n"
    "\n"
    "options:\n"
    "      --source SRC        polygon, or a file of 1m bars (any format\n"
    "                          'fxpipe import' reads)\n"
    "  -s, --symbol S          symbol (repeatable)\n"
    "      --from WHEN --to WHEN  range (ISO-8601 or Unix ms)\n"
    "      --timeframe 1m      only 1m is downloaded; higher ones are built\n"
    "      --db PATH           database (store.db)\n"
    "      --base-url URL      api.polygon.io, api.massive.com, or a test\n"
    "                          server\n"
    "      --rate-limit N      requests per minute (5, the free tier; 0 =\n"
    "                          none)\n"
    "      --timeout-ms N      per request (30000)\n"
    "      --retry-base-ms N   first retry backoff, doubled up to 32 s (1000)\n"
    "      --max-attempts N    per day before needs-review (3)\n"
    "      --force             also days the ledger calls done\n"
    "      --holidays WHICH    default | none | FILE\n"
    "  -c, --config FILE       configuration file\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit status: 0 all days verified or confirmed empty, 1 some days need\n"
    "review, 2 bad usage or a fatal source error (e.g. a rejected key),\n"
    "3 the database is unusable.\n";

int cmd_download(int argc, char **argv)
{
    static const struct option opts[] = {
        {"source", required_argument, NULL, 'R'},
        {"symbol", required_argument, NULL, 's'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"timeframe", required_argument, NULL, 't'},
        {"db", required_argument, NULL, 'D'},
        {"base-url", required_argument, NULL, 'B'},
        {"rate-limit", required_argument, NULL, 'L'},
        {"timeout-ms", required_argument, NULL, 'O'},
        {"retry-base-ms", required_argument, NULL, 'Y'},
        {"max-attempts", required_argument, NULL, 'M'},
        {"force", no_argument, NULL, 'X'},
        {"holidays", required_argument, NULL, 'H'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *source = NULL;
    const char *base_url = NULL, *holidays = NULL;
    char syms[64][FXP_SYMBOL_MAX];
    int n_syms = 0, timeout_ms = 0, retry_base_ms = -1, max_attempts = 0;
    double rate = -1;
    int64_t from = 0, to = 0, v;
    bool have_from = false, have_to = false, force = false;
    struct fxp_cli_store cs;
    fxp_cli_store_init(&cs);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:t:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'R':
            source = optarg;
            break;
        case 's':
            if (n_syms == 64 ||
                fxp_symbol_normalize(optarg, strlen(optarg), syms[n_syms])) {
                fxp_cli_error("download", "unknown symbol format '%s'", optarg);
                return FXP_EXIT_USAGE;
            }
            n_syms++;
            break;
        case 'F':
        case 'T':
            if (fxp_time_parse_str(optarg, c == 'F' ? &from : &to)) {
                fxp_cli_error("download", "bad time '%s'", optarg);
                return FXP_EXIT_USAGE;
            }
            *(c == 'F' ? &have_from : &have_to) = true;
            break;
        case 't':
            if (strcmp(optarg, "1m")) {
                fxp_cli_error("download", "only 1m bars are downloaded "
                                          "(higher timeframes are built)");
                return FXP_EXIT_USAGE;
            }
            break;
        case 'D':
            cs.url = optarg;
            break;
        case 'B':
            base_url = optarg;
            break;
        case 'X':
            force = true;
            break;
        case 'H':
            holidays = optarg;
            break;
        case 'c':
            cs.config = optarg;
            break;
        case 'L':
        case 'O':
        case 'Y':
        case 'M':
            if (fxp_cli_int(optarg, 0, 1000000000, &v)) {
                fxp_cli_error("download", "bad number '%s'", optarg);
                return FXP_EXIT_USAGE;
            }
            if (c == 'L')
                rate = (double)v;
            else if (c == 'O')
                timeout_ms = (int)v;
            else if (c == 'Y')
                retry_base_ms = (int)v;
            else
                max_attempts = (int)v;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return FXP_EXIT_OK;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (!source || !n_syms || !have_from || !have_to || to <= from ||
        optind < argc) {
        fxp_cli_error("download", "--source, --symbol, --from and --to (after "
                                  "--from) are required; see --help");
        return FXP_EXIT_USAGE;
    }
    struct fxp_cli_core core;
    fxp_cli_core_init(&core);
    struct fxp_cli_fetch fx = {0};
    struct fxp_symtab *st = NULL;
    int status = fxp_cli_store_open(&cs, "download", true);
    if (status != FXP_EXIT_OK)
        return status;
    core.holidays = holidays ? holidays : cs.cfg.calendar_holidays;
    core.session = (fxp_session)cs.cfg.bars_session;
    status = FXP_EXIT_IO;
    if (fxp_cli_core_open(&core, "download") != FXP_OK)
        goto done;
    status = fxp_cli_fetch_open(&fx, "download", source, &source, 1, &cs.cfg,
                                base_url, rate, timeout_ms, retry_base_ms);
    if (status != FXP_EXIT_OK)
        goto done;
    st = fxp_symtab_new(4096);
    struct fxp_backfill_cfg bc;
    fxp_backfill_cfg_default(&bc, core.cal, core.ny);
    bc.align.session = core.session;
    bc.force = force;
    bc.max_attempts =
        max_attempts > 0 ? max_attempts : (int)cs.cfg.gaps_max_attempts;
    fxp_cli_signals_install();
    status = FXP_EXIT_OK;
    for (int k = 0; k < n_syms && !fxp_cli_stop; k++) {
        struct fxp_backfill_stats s;
        char err[600];
        int rc = fxp_backfill_run(cs.store, &bc, fxp_cli_fetch, &fx, st,
                                  syms[k], from, to, &fxp_cli_stop, NULL, NULL,
                                  &s, err, sizeof err);
        fprintf(
            stderr,
            "download: %s from %s: %llu days planned, %llu verified, "
            "%llu confirmed empty, %llu need review; %llu requests, "
            "%llu bars, %llu rejected, %llu higher-timeframe bars "
            "rebuilt\n",
            syms[k], fx.desc, (unsigned long long)s.days_planned,
            (unsigned long long)s.days_verified,
            (unsigned long long)s.days_empty, (unsigned long long)s.days_review,
            (unsigned long long)s.requests, (unsigned long long)s.bars_fetched,
            (unsigned long long)s.bars_rejected,
            (unsigned long long)s.bars_rebuilt);
        if (rc != FXP_OK) {
            fxp_cli_error("download", "%s: %s", syms[k], err);
            status = FXP_EXIT_USAGE;
            break;
        }
        if (s.days_review)
            status = FXP_EXIT_FAIL;
    }
done:
    fxp_symtab_free(st);
    fxp_cli_fetch_close(&fx);
    fxp_cli_store_close(&cs);
    fxp_cli_core_close(&core);
    return status;
}
