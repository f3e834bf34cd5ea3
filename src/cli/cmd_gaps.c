/*
 * cmd_gaps.c - `fxpipe gaps`: completeness and missing ranges of stored
 * series; with --fill, back-fill them first; with --serve, the same job on
 * an interval (one run at a time, missed runs coalesced).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/serve_health.h"
#include "cli/fetch.h"
#include "cli/gaps_out.h"
#include "cli/jobs.h"
#include "fxpipe/backfill.h"
#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/gaps.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"

#define MAX_SYMBOLS 256

static const char usage_text[] =
    "usage: fxpipe gaps --from WHEN --to WHEN [options]\n"
    "\n"
    "Report, per symbol and timeframe, the bars the market calendar expects,\n"
    "those present, the completeness and the missing ranges (half-open, UTC).\n"
    "Closed-market time is never a gap. Ranges the source was asked about\n"
    "and had nothing for are 'confirmed-empty' and are not gaps to fill.\n"
    "Intraday series are complete at 100%, 1d and 1w at 80%.\n"
    "\n"
    "options:\n"
    "      --db PATH | --store URL   the store (store.db)\n"
    "  -s, --symbol S                a symbol (repeatable; default: all "
    "stored)\n"
    "  -t, --timeframe TF            a timeframe (repeatable; default: all)\n"
    "      --from WHEN --to WHEN     the range (ISO-8601 or Unix ms)\n"
    "      --json                    one JSON object per symbol and timeframe\n"
    "      --html FILE               also write a coverage heatmap page\n"
    "      --holidays WHICH          default | none | FILE\n"
    "      --session NAME            ny-close | utc\n"
    "      --fill                    back-fill missing 1m bars first, then\n"
    "                                rebuild higher timeframes and verify\n"
    "      --source SRC              polygon (key in POLYGON_API_KEY) or bar\n"
    "                                FILEs given as arguments\n"
    "      --base-url URL            Polygon base URL (api.polygon.io)\n"
    "      --rate-limit N            Polygon requests per minute (5; 0 = "
    "none)\n"
    "      --timeout-ms N            per request (30000)\n"
    "      --retry-base-ms N         first retry backoff (1000)\n"
    "      --max-attempts N          fill attempts before needs-review (3)\n"
    "      --force                   fill days the ledger calls done, too\n"
    "      --rescan                  recount the coverage from the bars first\n"
    "                                (after other tools changed rows)\n"
    "      --serve                   repeat every --interval seconds until\n"
    "                                SIGTERM; the range is the last\n"
    "                                --lookback-days (gaps.lookback_days, 7)\n"
    "                                unless given\n"
    "      --health ADDR             with --serve: /healthz, /readyz (the\n"
    "                                last run did not fail), /metrics\n"
    "  -c, --config FILE             configuration file\n"
    "  -h, --help                    show this help\n"
    "\n"
    "Exit status: 0 complete, 1 gaps remain, 2 error (bad usage, store or\n"
    "source failure).\n";

struct job {
    struct fxp_cli_store cs;
    struct fxp_cli_core core;
    const char *symbols[MAX_SYMBOLS];
    int n_symbols;
    unsigned tf_mask;
    int64_t from, to;
    bool have_from, have_to, json, fill, force, serve, rescan;
    const char *health_addr; /* --health with --serve, or NULL */
    struct fxp_serve_health *health;
    const char *html;
    const char *source, *base_url;
    double rate;
    int timeout_ms, retry_base_ms, max_attempts;
    int64_t interval_s, lookback_days;
    char **files;
    int n_files;
    char *source_file[1]; /* --source FILE */
};

static int on_series(void *ud, const struct fxp_series_info *i)
{
    struct job *j = ud;
    for (int k = 0; k < j->n_symbols; k++)
        if (!strcmp(j->symbols[k], i->symbol))
            return 0;
    if (j->n_symbols < MAX_SYMBOLS)
        j->symbols[j->n_symbols++] = strdup(i->symbol);
    return 0;
}

static void fill_progress(void *ud, const struct fxp_backfill_stats *s)
{
    const char *sym = ud;
    if (isatty(2))
        fprintf(stderr,
                "\rgaps: filling %s: %llu/%llu days, %llu bars fetched ", sym,
                (unsigned long long)(s->days_verified + s->days_empty +
                                     s->days_review),
                (unsigned long long)s->days_planned,
                (unsigned long long)s->bars_fetched);
}

static int fill(struct job *j, struct fxp_symtab *st)
{
    struct fxp_cli_fetch fx;
    int status = fxp_cli_fetch_open(&fx, "gaps", j->source, j->files,
                                    j->n_files, &j->cs.cfg, j->base_url,
                                    j->rate, j->timeout_ms, j->retry_base_ms);
    if (status != FXP_EXIT_OK)
        return status;
    struct fxp_backfill_cfg bc;
    fxp_backfill_cfg_default(&bc, j->core.cal, j->core.ny);
    bc.align.session = j->core.session;
    bc.force = j->force;
    bc.max_attempts = j->max_attempts > 0 ? j->max_attempts
                                          : (int)j->cs.cfg.gaps_max_attempts;
    for (int k = 0; k < j->n_symbols && !fxp_cli_stop; k++) {
        struct fxp_backfill_stats s;
        char err[600];
        char sym[FXP_SYMBOL_MAX];
        snprintf(sym, sizeof sym, "%s", j->symbols[k]);
        int rc = fxp_backfill_run(j->cs.store, &bc, fxp_cli_fetch, &fx, st, sym,
                                  j->from, j->to, &fxp_cli_stop, fill_progress,
                                  sym, &s, err, sizeof err);
        if (isatty(2))
            fprintf(stderr, "\r\033[K");
        fprintf(stderr,
                "gaps: filled %s from %s: %llu days planned, %llu verified, "
                "%llu confirmed empty, %llu need review; %llu bars fetched, "
                "%llu rejected, %llu higher-timeframe bars rebuilt\n",
                sym, fx.desc, (unsigned long long)s.days_planned,
                (unsigned long long)s.days_verified,
                (unsigned long long)s.days_empty,
                (unsigned long long)s.days_review,
                (unsigned long long)s.bars_fetched,
                (unsigned long long)s.bars_rejected,
                (unsigned long long)s.bars_rebuilt);
        if (rc != FXP_OK) {
            fxp_cli_error("gaps", "fill of '%s' failed: %s", sym, err);
            status = FXP_EXIT_USAGE;
            break;
        }
    }
    fxp_cli_fetch_close(&fx);
    return status;
}

/* One detection (and fill) pass. Returns 0 complete, 1 gaps, 2 error. */
static int run_once(struct job *j)
{
    if (j->fill) {
        struct fxp_symtab *st = fxp_symtab_new(4096);
        int status = st ? fill(j, st) : FXP_EXIT_FAIL;
        fxp_symtab_free(st);
        if (status != FXP_EXIT_OK)
            return 2;
    }
    struct fxp_align al = {j->core.session, j->core.ny};
    struct fxp_gaps_opts go;
    fxp_gaps_opts_default(&go);
    go.intraday_threshold = j->cs.cfg.gaps_intraday_threshold;
    go.daily_threshold = j->cs.cfg.gaps_daily_threshold;
    go.want_days = j->html != NULL;
    size_t cap = (size_t)j->n_symbols * FXP_TF_COUNT, n = 0;
    struct fxp_gap_report *reps = calloc(cap ? cap : 1, sizeof *reps);
    if (!reps)
        return 2;
    int status = 0;
    for (int t = 0; t < FXP_TF_COUNT && status != 2; t++) {
        if (!(j->tf_mask & (1u << t)))
            continue;
        for (int k = 0; k < j->n_symbols; k++) {
            char err[600];
            struct fxp_gap_report *r = &reps[n];
            int rc = fxp_gaps_detect(j->cs.store, j->core.cal, &al,
                                     j->symbols[k], (fxp_tf)t, j->from, j->to,
                                     &go, r, err, sizeof err);
            if (rc != FXP_OK) {
                fxp_cli_error("gaps", "%s", err);
                status = 2;
                break;
            }
            n++;
            if (j->json)
                fxp_gaps_print_json(stdout, r);
            else
                fxp_gaps_print_table(stdout, r, 20);
            if (!r->complete && status == 0)
                status = 1;
        }
    }
    if (j->html && status != 2) {
        FILE *f = fopen(j->html, "w");
        if (!f || fxp_gaps_write_html(f, reps, n, "fxpipe coverage") ||
            fclose(f)) {
            fxp_cli_error("gaps", "cannot write '%s': %s", j->html,
                          strerror(errno));
            status = 2;
        } else {
            fprintf(stderr, "gaps: coverage page written to '%s'\n", j->html);
        }
    }
    for (size_t i = 0; i < n; i++)
        fxp_gap_report_release(&reps[i]);
    free(reps);
    fflush(stdout);
    return status;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --serve: never two runs at once (a lock next to the database, and one
 * loop per process), missed runs coalesced, overruns warned about. */
static int serve(struct job *j)
{
    char lock[700];
    if (strstr(j->cs.url, "://")) {
        /* A network store: one runner per host, locked in the temp dir
         * under a name made from the URL. */
        const char *tmp = getenv("TMPDIR");
        char name[300];
        size_t n = 0;
        for (const char *p = j->cs.url; *p && n + 1 < sizeof name; p++)
            name[n++] = isalnum((unsigned char)*p) ? *p : '_';
        name[n] = '\0';
        snprintf(lock, sizeof lock, "%s/fxpipe-gaps-%s.lock",
                 tmp && tmp[0] ? tmp : "/tmp", name);
    } else {
        snprintf(lock, sizeof lock, "%s.gaps.lock", j->cs.url);
    }
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fxp_cli_error("gaps", "cannot create the lock '%s': %s", lock,
                      strerror(errno));
        return 3;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fxp_cli_error("gaps", "another 'fxpipe gaps --serve' holds '%s'", lock);
        close(fd);
        return 2;
    }
    if (j->health_addr) {
        int st = fxp_serve_health_start(j->health_addr, "gaps", &j->health);
        if (st != FXP_EXIT_OK) {
            close(fd);
            return st;
        }
    }
    double next = fxp_cli_now();
    int status = 0;
    while (!fxp_cli_stop) {
        if (!j->have_to)
            j->to = now_ms();
        if (!j->have_from)
            j->from = j->to - j->lookback_days * FXP_MS_PER_DAY;
        double t0 = fxp_cli_now();
        status = run_once(j);
        double took = fxp_cli_now() - t0;
        fxp_serve_health_run(j->health, status, took);
        next += (double)j->interval_s;
        if (took > (double)j->interval_s)
            fprintf(stderr,
                    "gaps: warning: the run took %.1f s, longer than the "
                    "%lld s interval\n",
                    took, (long long)j->interval_s);
        int skipped = 0;
        while (next <= fxp_cli_now()) {
            next += (double)j->interval_s;
            skipped++;
        }
        if (skipped)
            fprintf(stderr, "gaps: %d missed run%s coalesced into the next\n",
                    skipped, skipped == 1 ? "" : "s");
        while (!fxp_cli_stop && fxp_cli_now() < next) {
            struct timespec nap = {0, 100 * 1000000L};
            nanosleep(&nap, NULL);
        }
    }
    fxp_serve_health_stop(j->health);
    close(fd);
    return status == 2 ? 2 : 0;
}

static char *optarg_copy(const char *s)
{
    return strdup(s);
}

static int parse_args(struct job *j, int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'D'},
        {"store", required_argument, NULL, 'D'},
        {"symbol", required_argument, NULL, 's'},
        {"timeframe", required_argument, NULL, 't'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"json", no_argument, NULL, 'J'},
        {"html", required_argument, NULL, 'W'},
        {"holidays", required_argument, NULL, 'H'},
        {"session", required_argument, NULL, 'S'},
        {"fill", no_argument, NULL, 'f'},
        {"source", required_argument, NULL, 'R'},
        {"base-url", required_argument, NULL, 'B'},
        {"rate-limit", required_argument, NULL, 'L'},
        {"timeout-ms", required_argument, NULL, 'O'},
        {"retry-base-ms", required_argument, NULL, 'Y'},
        {"max-attempts", required_argument, NULL, 'M'},
        {"force", no_argument, NULL, 'X'},
        {"rescan", no_argument, NULL, 'Z'},
        {"serve", no_argument, NULL, 'V'},
        {"interval", required_argument, NULL, 'I'},
        {"lookback-days", required_argument, NULL, 'K'},
        {"health", required_argument, NULL, 'E'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    int64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:t:c:h", opts, NULL)) != -1) {
        fxp_tf tf;
        char norm[FXP_SYMBOL_MAX];
        if (fxp_cli_store_option(&j->cs, c, optarg))
            continue;
        switch (c) {
        case 's':
            if (fxp_symbol_normalize(optarg, strlen(optarg), norm) ||
                j->n_symbols == MAX_SYMBOLS) {
                fxp_cli_error("gaps", "unknown symbol format '%s'", optarg);
                return 2;
            }
            j->symbols[j->n_symbols++] = strdup(norm);
            break;
        case 't':
            if (fxp_tf_parse(optarg, &tf)) {
                fxp_cli_error("gaps", "unknown timeframe '%s'", optarg);
                return 2;
            }
            j->tf_mask |= 1u << tf;
            break;
        case 'F':
        case 'T':
            if (fxp_time_parse_str(optarg, c == 'F' ? &j->from : &j->to)) {
                fxp_cli_error("gaps", "bad time '%s'", optarg);
                return 2;
            }
            *(c == 'F' ? &j->have_from : &j->have_to) = true;
            break;
        case 'J':
            j->json = true;
            break;
        case 'W':
            j->html = optarg;
            break;
        case 'H':
            j->core.holidays = optarg;
            break;
        case 'S':
            if (fxp_session_parse(optarg, &j->core.session)) {
                fxp_cli_error("gaps", "unknown session '%s'", optarg);
                return 2;
            }
            break;
        case 'f':
            j->fill = true;
            break;
        case 'R':
            j->source = optarg;
            break;
        case 'B':
            j->base_url = optarg;
            break;
        case 'X':
            j->force = true;
            break;
        case 'Z':
            j->rescan = true;
            break;
        case 'V':
            j->serve = true;
            break;
        case 'E':
            j->health_addr = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case 'L':
        case 'O':
        case 'Y':
        case 'M':
        case 'I':
        case 'K':
            if (fxp_cli_int(optarg, 0, 1000000000, &v)) {
                fxp_cli_error("gaps", "bad number '%s'", optarg);
                return 2;
            }
            if (c == 'L')
                j->rate = (double)v;
            else if (c == 'O')
                j->timeout_ms = (int)v;
            else if (c == 'Y')
                j->retry_base_ms = (int)v;
            else if (c == 'M')
                j->max_attempts = (int)v;
            else if (c == 'I')
                j->interval_s = v;
            else
                j->lookback_days = v;
            break;
        default:
            fputs(usage_text, stderr);
            return 2;
        }
    }
    j->files = argv + optind;
    j->n_files = argc - optind;
    if (!j->tf_mask)
        j->tf_mask = FXP_TF_ALL_MASK;
    if (j->health_addr && !j->serve) {
        fxp_cli_error("gaps", "--health goes with --serve");
        return 2;
    }
    if (!j->serve && (!j->have_from || !j->have_to)) {
        fxp_cli_error("gaps", "--from and --to are required");
        return 2;
    }
    if (j->have_from && j->have_to && j->to <= j->from) {
        fxp_cli_error("gaps", "--to must be after --from");
        return 2;
    }
    if (j->fill && !j->source) {
        fxp_cli_error("gaps", "--fill needs --source polygon|FILE...");
        return 2;
    }
    if (j->source && strcmp(j->source, "polygon") && j->n_files == 0) {
        j->source_file[0] = optarg_copy(j->source);
        j->files = j->source_file;
        j->n_files = 1;
    } else if (j->n_files && !j->fill) {
        fxp_cli_error("gaps", "unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (j->serve && j->interval_s <= 0) {
        fxp_cli_error("gaps", "--serve needs --interval SECONDS");
        return 2;
    }
    return 0;
}

int cmd_gaps(int argc, char **argv)
{
    struct job j;
    memset(&j, 0, sizeof j);
    fxp_cli_store_init(&j.cs);
    fxp_cli_core_init(&j.core);
    j.rate = -1;
    j.retry_base_ms = -1;
    j.lookback_days = -1;
    int status = parse_args(&j, argc, argv);
    if (status)
        return status < 0 ? FXP_EXIT_OK : FXP_EXIT_USAGE;
    status = 2;
    if (fxp_cli_store_open(&j.cs, "gaps", false) != FXP_EXIT_OK)
        goto done;
    if (j.core.holidays == NULL || !strcmp(j.core.holidays, "default"))
        j.core.holidays = j.cs.cfg.calendar_holidays;
    if (fxp_cli_core_open(&j.core, "gaps") != FXP_OK)
        goto done;
    if (j.lookback_days < 0)
        j.lookback_days = j.cs.cfg.gaps_lookback_days;
    if (j.rescan && fxp_store_rescan_coverage(j.cs.store, NULL) != FXP_OK) {
        fxp_cli_error("gaps", "%s", fxp_store_errmsg(j.cs.store));
        goto done;
    }
    if (j.n_symbols == 0 &&
        fxp_store_series(j.cs.store, on_series, &j) != FXP_OK) {
        fxp_cli_error("gaps", "%s", fxp_store_errmsg(j.cs.store));
        goto done;
    }
    if (j.n_symbols == 0) {
        fxp_cli_error("gaps", "nothing stored; name a --symbol");
        goto done;
    }
    fxp_cli_signals_install();
    status = j.serve ? serve(&j) : run_once(&j);
done:
    for (int k = 0; k < j.n_symbols; k++)
        free((char *)j.symbols[k]);
    free(j.source_file[0]);
    fxp_cli_store_close(&j.cs);
    fxp_cli_core_close(&j.core);
    return status;
}
