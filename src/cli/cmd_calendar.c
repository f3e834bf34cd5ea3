/*
 * cmd_calendar.c - `fxpipe calendar`: print the open sessions of the forex
 * market that overlap [--from, --to), one "open,close" line each in
 * ISO-8601 UTC, clipped to the range. Argument parsing and printing only;
 * the calendar itself is src/core/calendar.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/time.h"

#define CMD   "calendar"
#define CHUNK 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fxpipe calendar --from DATE --to DATE "
            "[--holidays none|default|FILE]\n"
            "\n"
            "Print the forex market's open sessions overlapping [from, to),\n"
            "one 'open,close' line each in ISO-8601 UTC, clipped to the "
            "range.\n"
            "The week runs Sunday 17:00 to Friday 17:00 America/New_York.\n"
            "\n"
            "  --from DATE       start of the range (inclusive)\n"
            "  --to DATE         end of the range (exclusive)\n"
            "  --holidays WHICH  'default' (built in, the default), 'none',\n"
            "                    or a holiday file (see docs/holidays.md)\n"
            "  -h, --help        show this help\n"
            "\n"
            "DATE is YYYY-MM-DD, ISO-8601 with an optional offset\n"
            "(2025-03-09T17:00:00-04:00) or Unix milliseconds.\n");
}

static int parse_date(const char *opt, const char *s, int64_t *ts)
{
    int rc = fxp_time_parse_str(s, ts);
    if (rc == FXP_OK)
        return FXP_EXIT_OK;
    fxp_cli_error(CMD,
                  "bad %s date '%s': %s (expected YYYY-MM-DD, ISO-8601 or "
                  "Unix ms)",
                  opt, s,
                  rc == FXP_ERANGE ? "field out of range" : "malformed");
    return FXP_EXIT_USAGE;
}

/* Print every session of [from, to), CHUNK at a time. */
static int print_sessions(const struct fxp_calendar *cal, int64_t from,
                          int64_t to)
{
    struct fxp_span sp[CHUNK];
    char a[32], b[32];
    for (;;) {
        size_t n = fxp_cal_sessions(cal, from, to, sp, CHUNK);
        size_t k = n < CHUNK ? n : CHUNK;
        for (size_t i = 0; i < k; i++) {
            fxp_time_format_iso(sp[i].open_ms, a, sizeof a);
            fxp_time_format_iso(sp[i].close_ms, b, sizeof b);
            printf("%s,%s\n", a, b);
        }
        if (n <= CHUNK)
            break;
        /* Sessions are maximal, so the last close is a closed instant and
         * the next call starts with the next session. */
        from = sp[CHUNK - 1].close_ms;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fxp_cli_error(CMD, "cannot write output: %s", strerror(errno));
        return FXP_EXIT_IO;
    }
    return FXP_EXIT_OK;
}

int cmd_calendar(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"holidays", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *from_s = NULL, *to_s = NULL, *holidays = "default";
    int64_t from = 0, to = 0;
    int c, rc;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            from_s = optarg;
            break;
        case 't':
            to_s = optarg;
            break;
        case 'H':
            holidays = optarg;
            break;
        case 'h':
            usage(stdout);
            return FXP_EXIT_OK;
        case ':':
            fxp_cli_error(CMD, "option '%s' needs a value", argv[optind - 1]);
            return FXP_EXIT_USAGE;
        default:
            fxp_cli_error(CMD,
                          "unknown option '%s'; see 'fxpipe calendar "
                          "--help'",
                          argv[optind - 1]);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fxp_cli_error(CMD, "unexpected argument '%s'", argv[optind]);
        return FXP_EXIT_USAGE;
    }
    if (!from_s || !to_s) {
        fxp_cli_error(CMD, "missing %s; see 'fxpipe calendar --help'",
                      !from_s ? "--from" : "--to");
        return FXP_EXIT_USAGE;
    }
    if ((rc = parse_date("--from", from_s, &from)) != FXP_EXIT_OK ||
        (rc = parse_date("--to", to_s, &to)) != FXP_EXIT_OK)
        return rc;
    if (from >= to) {
        fxp_cli_error(CMD, "empty range: --from '%s' is not before --to '%s'",
                      from_s, to_s);
        return FXP_EXIT_USAGE;
    }

    struct fxp_cli_core core;
    fxp_cli_core_init(&core);
    core.holidays = holidays;
    rc = fxp_cli_core_open(&core, CMD);
    if (rc == FXP_OK)
        rc = print_sessions(core.cal, from, to);
    else
        rc = rc == FXP_ENOMEM ? FXP_EXIT_FAIL : FXP_EXIT_IO;
    fxp_cli_core_close(&core);
    return rc;
}
