/*
 * cmd_import.c - `fxpipe import`: tick or 1m-bar files into the store,
 * building every timeframe, through the same pipeline as `fxpipe run`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/jobs.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/source.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"

static const char usage_text[] =
    "usage: fxpipe import [options] FILE...\n"
    "\n"
    "Import quotes or 1-minute bars into the store and build every\n"
    "timeframe from them. Files are read in the order given (give them in\n"
    "time order). Formats (docs/formats.md):\n"
    "  generic    header symbol,ts,bid,ask[,volume] or\n"
    "             symbol,ts,open,high,low,close,volume (ts Unix ms/ISO UTC)\n"
    "  histdata   HistData.com ASCII ticks or M1 bars (EST, UTC-5)\n"
    "  dukascopy  Dukascopy CSV ticks or bars (UTC Unix ms)\n"
    "Importing the same files again changes nothing.\n"
    "\n"
    "options:\n"
    "  -f, --format FMT       auto (default), generic, histdata, dukascopy\n"
    "  -k, --kind KIND        ticks or bars (default: from the file)\n"
    "  -s, --symbol S         symbol for files that name none\n"
    "      --db PATH          database (store.db, default fxpipe.db)\n"
    "      --all-hours        keep records when the market is closed\n"
    "      --session NAME     ny-close | utc (bars.session)\n"
    "      --holidays WHICH   default | none | FILE (calendar.holidays)\n"
    "      --keep-ticks       store raw ticks too (store.keep_ticks)\n"
    "  -c, --config FILE      configuration file\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 done (rejected records are stored with their reason),\n"
    "1 the import failed part-way (what was stored stays consistent),\n"
    "2 bad usage, 3 a file or the database is unusable.\n";

struct import_ctx {
    char **files;
    struct fxp_source_opts opts;
    struct fxp_symtab *st;
};

static void note(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "import: %s\n", msg);
}

static int open_file(void *ud, size_t index, fxp_csv_bad_fn on_bad,
                     void *bad_ud, struct fxp_source **out, char *errbuf,
                     size_t errlen)
{
    struct import_ctx *ic = ud;
    struct fxp_source_opts o = ic->opts;
    o.on_bad = on_bad;
    o.ud = bad_ud;
    o.on_note = note;
    int rc =
        fxp_source_open_file(ic->files[index], &o, ic->st, out, errbuf, errlen);
    if (rc == FXP_OK)
        fprintf(stderr, "import: %s\n", fxp_source_describe(*out));
    return rc;
}

static char import_label[] = "import";

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"kind", required_argument, NULL, 'k'},
        {"symbol", required_argument, NULL, 's'},
        {"db", required_argument, NULL, 'D'},
        {"all-hours", no_argument, NULL, 'A'},
        {"session", required_argument, NULL, 'S'},
        {"holidays", required_argument, NULL, 'H'},
        {"keep-ticks", no_argument, NULL, 'K'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct import_ctx ic = {0};
    fxp_source_opts_default(&ic.opts);
    const char *config = NULL, *db = NULL, *session = NULL, *holidays = NULL;
    bool all_hours = false, keep_ticks = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:k:s:c:h", opts, NULL)) != -1) {
        fxp_kind kind;
        switch (c) {
        case 'f':
            if (fxp_format_parse(optarg, &ic.opts.format)) {
                fxp_cli_error("import",
                              "unknown format '%s' (auto, generic, "
                              "histdata, dukascopy)",
                              optarg);
                return FXP_EXIT_USAGE;
            }
            break;
        case 'k':
            if (fxp_kind_parse(optarg, &kind)) {
                fxp_cli_error("import", "unknown kind '%s' (ticks or bars)",
                              optarg);
                return FXP_EXIT_USAGE;
            }
            ic.opts.kind = (int)kind;
            break;
        case 's':
            ic.opts.symbol = optarg;
            break;
        case 'D':
            db = optarg;
            break;
        case 'A':
            all_hours = true;
            break;
        case 'S':
            session = optarg;
            break;
        case 'H':
            holidays = optarg;
            break;
        case 'K':
            keep_ticks = true;
            break;
        case 'c':
            config = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return FXP_EXIT_OK;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind == argc) {
        fxp_cli_error("import", "no files to import; see 'fxpipe import "
                                "--help'");
        return FXP_EXIT_USAGE;
    }
    /* Every file must be there before anything is stored. */
    for (int i = optind; i < argc; i++) {
        struct stat sb;
        if (strcmp(argv[i], "-") && stat(argv[i], &sb) != 0) {
            fxp_cli_error("import", "cannot open '%s': %s", argv[i],
                          strerror(errno));
            return FXP_EXIT_IO;
        }
    }
    struct fxp_cli_store cs;
    fxp_cli_store_init(&cs);
    int status = fxp_cli_config_load(&cs.cfg, config, "import");
    if (status != FXP_EXIT_OK)
        return status;
    char err[700];
    if ((db && fxp_config_set(&cs.cfg, "store.db", db, FXP_CONFIG_FROM_FLAG,
                              err, sizeof err)) ||
        (session && fxp_config_set(&cs.cfg, "bars.session", session,
                                   FXP_CONFIG_FROM_FLAG, err, sizeof err)) ||
        (holidays && fxp_config_set(&cs.cfg, "calendar.holidays", holidays,
                                    FXP_CONFIG_FROM_FLAG, err, sizeof err)) ||
        (keep_ticks && fxp_config_set(&cs.cfg, "store.keep_ticks", "true",
                                      FXP_CONFIG_FROM_FLAG, err, sizeof err))) {
        fxp_cli_error("import", "%s", err);
        return FXP_EXIT_USAGE;
    }
    cs.have_cfg = true;
    cs.url = cs.cfg.store_db;

    char dlq_path[700];
    struct fxp_cli_core core;
    fxp_cli_core_init(&core);
    core.holidays = cs.cfg.calendar_holidays;
    core.session = (fxp_session)cs.cfg.bars_session;
    status = FXP_EXIT_IO;
    if (fxp_cli_core_open(&core, "import") != FXP_OK)
        goto done;
    status = fxp_cli_store_open(&cs, "import", true);
    if (status != FXP_EXIT_OK)
        goto done;
    ic.files = argv + optind;
    ic.st = fxp_symtab_new(4096);
    if (!ic.st) {
        status = FXP_EXIT_FAIL;
        goto done;
    }
    struct fxp_pipeline_cfg pc;
    status = fxp_cli_pipeline_cfg(&cs.cfg, &core, "import", &pc);
    if (status != FXP_EXIT_OK)
        goto done;
    pc.agg.source = FXP_SRC_HISTORICAL;
    pc.dlq_path = fxp_cli_dlq_path(&cs.cfg, cs.url, dlq_path, sizeof dlq_path);
    pc.job = "import";
    if (all_hours)
        pc.cal = NULL;

    fxp_cli_signals_install();
    struct fxp_pipeline_stats stats;
    int rc = fxp_pipeline_run(&pc, open_file, &ic, (size_t)(argc - optind),
                              ic.st, cs.store, &fxp_cli_stop, fxp_cli_progress,
                              import_label, &stats, err, sizeof err);
    fxp_cli_progress_done();
    fxp_cli_summary(stderr, "import", &stats);
    if (rc != FXP_OK) {
        fxp_cli_error("import", "%s", err);
        status = rc == FXP_EPARSE || rc == FXP_EINVAL          ? FXP_EXIT_USAGE
                 : stats.store_writes == 0 && rc != FXP_ENOSPC ? FXP_EXIT_IO
                                                               : FXP_EXIT_FAIL;
        goto done;
    }
    status = fxp_cli_stop ? FXP_EXIT_FAIL : FXP_EXIT_OK;
    if (stats.dead_lettered) {
        fxp_cli_error("import",
                      "%llu batches could not be stored and are in the "
                      "dead-letter file; store them with 'fxpipe dlq replay'",
                      (unsigned long long)stats.dead_lettered);
        status = FXP_EXIT_FAIL;
    }
    if (fxp_cli_stop)
        fprintf(stderr, "import: stopped by signal; what was read so far is "
                        "stored\n");
done:
    fxp_symtab_free(ic.st);
    fxp_cli_store_close(&cs);
    fxp_cli_core_close(&core);
    return status;
}
