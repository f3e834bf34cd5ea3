/* cmd_stats.c - `fxpipe stats`: what a store holds. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/time.h"

static const char usage_text[] =
    "usage: fxpipe stats [--db PATH | --store URL] [--config FILE]\n"
    "\n"
    "Print what is stored: per symbol and timeframe the number of bars and\n"
    "the first and last bar time; the number of ticks kept; rejected\n"
    "records by reason.\n";

static int on_series(void *ud, const struct fxp_series_info *i)
{
    uint64_t *n = ud;
    char a[32], b[32];
    fxp_time_format_iso(i->first_ts, a, sizeof a);
    fxp_time_format_iso(i->last_ts, b, sizeof b);
    if ((*n)++ == 0)
        printf("%-8s %-4s %10s  %-20s  %-20s\n", "symbol", "tf", "bars",
               "first", "last");
    printf("%-8s %-4s %10" PRIu64 "  %-20s  %-20s\n", i->symbol,
           fxp_tf_name(i->tf), i->count, a, b);
    return 0;
}

static int on_reason(void *ud, const char *reason, uint64_t count)
{
    (void)ud;
    printf("  %-14s %" PRIu64 "\n", reason, count);
    return 0;
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'D'},
        {"store", required_argument, NULL, 'U'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fxp_cli_store cs;
    fxp_cli_store_init(&cs);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (fxp_cli_store_option(&cs, c, optarg))
            continue;
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            return FXP_EXIT_OK;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fxp_cli_error("stats", "unexpected argument '%s'", argv[optind]);
        return FXP_EXIT_USAGE;
    }
    int status = fxp_cli_store_open(&cs, "stats", false);
    if (status != FXP_EXIT_OK)
        return status;
    status = FXP_EXIT_IO;
    printf("store: %s\n\n", cs.url);
    uint64_t n_series = 0, n_ticks = 0, n_rej = 0;
    if (fxp_store_series(cs.store, on_series, &n_series) ||
        fxp_store_counts(cs.store, &n_ticks, &n_rej)) {
        fxp_cli_error("stats", "%s", fxp_store_errmsg(cs.store));
        goto done;
    }
    if (n_series == 0)
        printf("no bars stored\n");
    printf("\nticks kept: %" PRIu64 "\nrejected records: %" PRIu64 "\n",
           n_ticks, n_rej);
    if (n_rej && fxp_store_reject_summary(cs.store, on_reason, NULL)) {
        fxp_cli_error("stats", "%s", fxp_store_errmsg(cs.store));
        goto done;
    }
    status = FXP_EXIT_OK;
done:
    fxp_cli_store_close(&cs);
    return status;
}
