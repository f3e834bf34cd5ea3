/*
 * cmd_export.c - `fxpipe export`: stored bars of one symbol and timeframe
 * as CSV (the columns of `fxpipe resample`) or JSON lines.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "fxpipe/barfmt.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"

static const char usage_text[] =
    "usage: fxpipe export --symbol S --timeframe TF [options]\n"
    "\n"
    "Write stored bars, ascending by time, with the columns of\n"
    "'fxpipe resample':\n"
    "  " FXP_BAR_CSV_HEADER "\n"
    "\n"
    "options:\n"
    "      --db PATH          SQLite database (default: store.db, fxpipe.db)\n"
    "      --store URL        a store URL instead (sqlite:PATH)\n"
    "  -s, --symbol S         symbol (EURUSD, EUR/USD, C:EURUSD ...)\n"
    "  -t, --timeframe TF     1m 5m 15m 30m 1h 4h 1d 1w\n"
    "      --from WHEN        first bar time (ISO-8601 or Unix ms), inclusive\n"
    "      --to WHEN          end time, exclusive\n"
    "  -f, --format FMT       csv (default) or jsonl\n"
    "  -o, --output FILE      write to FILE instead of stdout\n"
    "  -c, --config FILE      configuration file\n"
    "  -h, --help             show this help\n";

struct exp {
    FILE *out;
    bool jsonl;
    uint64_t n;
    int werr;
};

static int on_bar(void *ud, const char *symbol, const struct fxp_bar *b)
{
    struct exp *e = ud;
    char line[512];
    size_t n = e->jsonl ? fxp_bar_format_jsonl(b, symbol, line, sizeof line)
                        : fxp_bar_format_csv(b, symbol, line, sizeof line);
    if (fwrite(line, 1, n, e->out) != n) {
        e->werr = errno ? errno : EIO;
        return 1;
    }
    e->n++;
    return 0;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'D'},
        {"store", required_argument, NULL, 'U'},
        {"symbol", required_argument, NULL, 's'},
        {"timeframe", required_argument, NULL, 't'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fxp_cli_store cs;
    fxp_cli_store_init(&cs);
    const char *symbol = NULL, *tfname = NULL, *fmt = "csv", *output = NULL;
    int64_t from = INT64_MIN, to = INT64_MAX;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:t:f:o:c:h", opts, NULL)) != -1) {
        if (fxp_cli_store_option(&cs, c, optarg))
            continue;
        switch (c) {
        case 's':
            symbol = optarg;
            break;
        case 't':
            tfname = optarg;
            break;
        case 'F':
        case 'T':
            if (fxp_time_parse_str(optarg, c == 'F' ? &from : &to)) {
                fxp_cli_error("export", "bad time '%s' for --%s", optarg,
                              c == 'F' ? "from" : "to");
                return FXP_EXIT_USAGE;
            }
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return FXP_EXIT_OK;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    char name[FXP_SYMBOL_MAX];
    fxp_tf tf;
    if (!symbol || !tfname) {
        fxp_cli_error("export", "--symbol and --timeframe are required");
        return FXP_EXIT_USAGE;
    }
    if (fxp_symbol_normalize(symbol, strlen(symbol), name)) {
        fxp_cli_error("export", "unknown symbol format '%s'", symbol);
        return FXP_EXIT_USAGE;
    }
    if (fxp_tf_parse(tfname, &tf)) {
        fxp_cli_error("export", "unknown timeframe '%s'", tfname);
        return FXP_EXIT_USAGE;
    }
    if (strcmp(fmt, "csv") && strcmp(fmt, "jsonl")) {
        fxp_cli_error("export", "unknown format '%s' (csv or jsonl)", fmt);
        return FXP_EXIT_USAGE;
    }
    if (optind < argc) {
        fxp_cli_error("export", "unexpected argument '%s'", argv[optind]);
        return FXP_EXIT_USAGE;
    }
    int status = fxp_cli_store_open(&cs, "export", false);
    if (status != FXP_EXIT_OK)
        return status;
    struct exp e = {.out = stdout, .jsonl = !strcmp(fmt, "jsonl")};
    status = FXP_EXIT_IO;
    if (output && !(e.out = fopen(output, "w"))) {
        fxp_cli_error("export", "cannot open output '%s': %s", output,
                      strerror(errno));
        goto done;
    }
    if (!e.jsonl && fputs(FXP_BAR_CSV_HEADER "\n", e.out) == EOF)
        e.werr = errno;
    int rc = fxp_store_scan_bars(cs.store, name, tf, from, to, on_bar, &e);
    if (fflush(e.out) == EOF && !e.werr)
        e.werr = errno;
    if (e.werr) {
        fxp_cli_error("export", "cannot write '%s': %s",
                      output ? output : "<stdout>", strerror(e.werr));
        goto done;
    }
    if (rc != FXP_OK) {
        fxp_cli_error("export", "%s", fxp_store_errmsg(cs.store));
        goto done;
    }
    if (e.n == 0)
        fprintf(stderr, "export: no %s %s bars in the range\n", name,
                fxp_tf_name(tf));
    status = FXP_EXIT_OK;
done:
    if (e.out && e.out != stdout)
        fclose(e.out);
    fxp_cli_store_close(&cs);
    return status;
}
