/*
 * cmd_resample.c - `fxpipe resample`: tick CSV in, bars CSV out.
 *
 * reader -> validator -> market-hours check -> engine -> CSV writer, in
 * batches on one thread. Bars are written as they close (a bar revised by
 * a late tick appears again with a higher version); open bars are flushed
 * at end of input. Rejected rows go to stderr with file:line and reason.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "fxpipe/aggregate.h"
#include "fxpipe/barfmt.h"
#include "fxpipe/calendar.h"
#include "fxpipe/csv.h"
#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "fxpipe/tz.h"
#include "fxpipe/validate.h"

#define BATCH 8192

static const char usage_text[] =
    "usage: fxpipe resample [options] [FILE|-]\n"
    "\n"
    "Read quotes from a tick CSV (header symbol,ts,bid,ask[,volume]; ts in\n"
    "Unix ms or ISO-8601 UTC) and write OHLCV bars as CSV to stdout:\n"
    "  " FXP_BAR_CSV_HEADER "\n"
    "(ts = bar open time, Unix ms UTC). Bars are written as they close;\n"
    "a bar revised by a late tick is written again with a higher version.\n"
    "\n"
    "options:\n"
    "  -t, --timeframes LIST   1m,5m,15m,30m,1h,4h,1d,1w or all (default all)\n"
    "  -p, --price BASIS       mid (default), bid or ask\n"
    "  -s, --session NAME      ny-close (default) or utc\n"
    "      --holidays WHICH    default, none or a holidays FILE\n"
    "      --all-hours         keep ticks when the market is closed\n"
    "      --lateness MS       allowed lateness of out-of-order ticks (5000)\n"
    "      --symbol NAME       symbol for files without a symbol column\n"
    "      --max-errors N      rejected rows to print (100; all are counted)\n"
    "  -o, --output FILE       write bars to FILE instead of stdout\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit status: 0 done (rejected rows are reported and counted), 2 bad\n"
    "usage, 3 input or output unusable.\n";

struct resample {
    FILE *out;
    const struct fxp_symtab *st;
    const char *path;
    uint64_t rejected[FXP_R_COUNT];
    uint64_t printed, max_errors;
    uint64_t bars;
    int write_err;
};

static void on_bar(void *ud, const struct fxp_bar *b, bool revision)
{
    (void)revision;
    struct resample *rs = ud;
    char line[320];
    size_t n = fxp_bar_format_csv(b, fxp_symtab_name(rs->st, b->sym), line,
                                  sizeof line);
    if (fwrite(line, 1, n, rs->out) != n)
        rs->write_err = 1;
    rs->bars++;
}

static void reject(struct resample *rs, uint64_t line_no, fxp_reason r,
                   const char *detail)
{
    rs->rejected[r]++;
    if (rs->printed++ < rs->max_errors)
        fprintf(stderr, "%s:%llu: %s: %s\n", rs->path,
                (unsigned long long)line_no, fxp_reason_name(r), detail);
}

static void on_bad_line(void *ud, const char *path, uint64_t line_no,
                        fxp_reason r, const char *detail)
{
    (void)path;
    reject(ud, line_no, r, detail);
}

int cmd_resample(int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeframes", required_argument, NULL, 't'},
        {"price", required_argument, NULL, 'p'},
        {"session", required_argument, NULL, 's'},
        {"holidays", required_argument, NULL, 'H'},
        {"all-hours", no_argument, NULL, 'A'},
        {"lateness", required_argument, NULL, 'L'},
        {"symbol", required_argument, NULL, 'S'},
        {"max-errors", required_argument, NULL, 'E'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fxp_cli_core core;
    fxp_cli_core_init(&core);
    const char *output = NULL, *symbol = NULL;
    unsigned tf_mask = FXP_TF_ALL_MASK;
    fxp_price price = FXP_PRICE_MID;
    int64_t lateness = 5000, max_errors = 100;
    bool all_hours = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:p:s:o:h", opts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case 't':
            if (fxp_tf_parse_list(optarg, &tf_mask, &bad)) {
                fxp_cli_error("resample", "unknown timeframe '%s'",
                              bad ? bad : optarg);
                return FXP_EXIT_USAGE;
            }
            break;
        case 'p':
            if (fxp_price_parse(optarg, &price)) {
                fxp_cli_error("resample", "unknown price basis '%s'", optarg);
                return FXP_EXIT_USAGE;
            }
            break;
        case 's':
            if (fxp_session_parse(optarg, &core.session)) {
                fxp_cli_error("resample", "unknown session '%s'", optarg);
                return FXP_EXIT_USAGE;
            }
            break;
        case 'H':
            core.holidays = optarg;
            break;
        case 'A':
            all_hours = true;
            break;
        case 'L':
            if (fxp_cli_int(optarg, 0, 7 * 86400000LL, &lateness)) {
                fxp_cli_error("resample", "bad --lateness '%s'", optarg);
                return FXP_EXIT_USAGE;
            }
            break;
        case 'S':
            symbol = optarg;
            break;
        case 'E':
            if (fxp_cli_int(optarg, 0, INT64_MAX, &max_errors)) {
                fxp_cli_error("resample", "bad --max-errors '%s'", optarg);
                return FXP_EXIT_USAGE;
            }
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
    if (argc - optind > 1) {
        fxp_cli_error("resample", "one input file at most (got %d)",
                      argc - optind);
        return FXP_EXIT_USAGE;
    }
    const char *path = optind < argc ? argv[optind] : "-";

    int status = FXP_EXIT_IO;
    struct fxp_symtab *st = NULL;
    struct fxp_csv_reader *rd = NULL;
    struct fxp_validator *v = NULL;
    struct fxp_agg *agg = NULL;
    struct fxp_tick *ticks = NULL, *good = NULL;
    uint64_t *lines = NULL, *good_lines = NULL;
    uint32_t *late_idx = NULL;
    char err[512];
    struct resample rs = {.out = stdout,
                          .path = strcmp(path, "-") ? path : "<stdin>",
                          .max_errors = (uint64_t)max_errors};
    double t0 = fxp_cli_now();

    if (fxp_cli_core_open(&core, "resample") != FXP_OK)
        goto done;
    st = fxp_symtab_new(4096);
    struct fxp_validate_cfg vcfg;
    fxp_validate_cfg_default(&vcfg);
    v = fxp_validator_new(&vcfg, 4096);
    ticks = malloc(BATCH * sizeof *ticks);
    good = malloc(BATCH * sizeof *good);
    lines = malloc(BATCH * sizeof *lines);
    good_lines = malloc(BATCH * sizeof *good_lines);
    late_idx = malloc(BATCH * sizeof *late_idx);
    if (!st || !v || !ticks || !good || !lines || !good_lines || !late_idx) {
        fxp_cli_error("resample", "out of memory");
        goto done;
    }
    rs.st = st;
    struct fxp_csv_opts copts = {
        .symbol = symbol, .on_bad = on_bad_line, .ud = &rs};
    int rc = fxp_csv_open(path, &copts, st, &rd, err, sizeof err);
    if (rc != FXP_OK) {
        fxp_cli_error("resample", "%s", err);
        status = rc == FXP_EINVAL ? FXP_EXIT_USAGE : FXP_EXIT_IO;
        goto done;
    }
    if (output && !(rs.out = fopen(output, "w"))) {
        fxp_cli_error("resample", "cannot open output '%s': %s", output,
                      strerror(errno));
        rs.out = stdout;
        goto done;
    }
    static char outbuf[1 << 20];
    setvbuf(rs.out, outbuf, _IOFBF, sizeof outbuf);

    struct fxp_agg_cfg acfg;
    fxp_agg_cfg_default(&acfg, core.ny);
    acfg.align.session = core.session;
    acfg.tf_mask = tf_mask;
    acfg.price = price;
    acfg.lateness_ms = lateness;
    acfg.max_symbols = 4096;
    agg = fxp_agg_new(&acfg, on_bar, &rs);
    if (!agg) {
        fxp_cli_error("resample", "out of memory");
        goto done;
    }
    if (fputs(FXP_BAR_CSV_HEADER "\n", rs.out) == EOF)
        rs.write_err = 1;

    struct fxp_cal_cursor hours = {.cal = core.cal};
    uint64_t n_read = 0;
    size_t n;
    while ((n = fxp_csv_read_lines(rd, ticks, lines, BATCH, &rc)) > 0) {
        n_read += n;
        size_t ng = 0;
        for (size_t i = 0; i < n; i++) {
            fxp_reason r = fxp_validate_tick(v, &ticks[i]);
            if (r == FXP_R_OK && !all_hours &&
                !fxp_cal_cursor_is_open(&hours, ticks[i].ts_ms))
                r = FXP_R_CLOSED;
            if (r != FXP_R_OK) {
                char detail[256];
                reject(&rs, lines[i], r,
                       fxp_reason_format_tick(r, &ticks[i], detail,
                                              sizeof detail));
                continue;
            }
            good_lines[ng] = lines[i];
            good[ng++] = ticks[i];
        }
        size_t nlate = fxp_agg_ticks(agg, good, ng, late_idx);
        for (size_t k = 0; k < nlate; k++) {
            char detail[256];
            reject(&rs, good_lines[late_idx[k]], FXP_R_LATE,
                   fxp_reason_format_tick(FXP_R_LATE, &good[late_idx[k]],
                                          detail, sizeof detail));
        }
    }
    if (rc != FXP_OK) {
        fxp_cli_error("resample", "cannot read '%s': %s", rs.path,
                      fxp_strerror(rc));
        goto done;
    }
    fxp_agg_flush(agg);
    if (fflush(rs.out) == EOF || rs.write_err) {
        fxp_cli_error("resample", "cannot write bars to '%s': %s",
                      output ? output : "<stdout>", strerror(errno));
        goto done;
    }
    uint64_t n_bad = 0;
    for (int r = 0; r < FXP_R_COUNT; r++)
        n_bad += rs.rejected[r];
    if (rs.printed > rs.max_errors)
        fprintf(stderr, "resample: %llu more rejected rows not shown\n",
                (unsigned long long)(rs.printed - rs.max_errors));
    fprintf(stderr,
            "resample: %llu ticks read, %llu rejected, %llu bars written "
            "in %.2f s\n",
            (unsigned long long)(n_read + fxp_csv_bad_lines(rd)),
            (unsigned long long)n_bad, (unsigned long long)rs.bars,
            fxp_cli_now() - t0);
    for (int r = 1; r < FXP_R_COUNT; r++)
        if (rs.rejected[r])
            fprintf(stderr, "resample:   rejected %-12s %llu\n",
                    fxp_reason_name((fxp_reason)r),
                    (unsigned long long)rs.rejected[r]);
    status = FXP_EXIT_OK;
done:
    if (rs.out != stdout)
        fclose(rs.out);
    fxp_agg_free(agg);
    fxp_csv_close(rd);
    fxp_validator_free(v);
    fxp_symtab_free(st);
    free(ticks);
    free(good);
    free(lines);
    free(good_lines);
    free(late_idx);
    fxp_cli_core_close(&core);
    return status;
}
