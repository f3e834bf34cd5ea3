/*
 * cmd_ingest.c - `fxpipe ingest`: the ingest service. The live feed of
 * `fxpipe run` (opened the same way, judged the same way) into a journal,
 * and from it onto the bus's TICKS stream (include/fxpipe/ingest.h,
 * docs/services/ingest.md). Runs until the feed ends and is published, or
 * SIGINT/SIGTERM: then a clean stop within the stop deadline and a
 * summary.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/feed.h"
#include "cli/jobs.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/ingest.h"
#include "fxpipe/symbol.h"

static const char usage_text[] =
    "usage: fxpipe ingest [--bus URL] [--journal DIR] [options]\n"
    "\n"
    "The ingest service: a live feed (as 'fxpipe run' reads it) ->\n"
    "validation and market hours (as 'fxpipe run' judges them) -> the\n"
    "journal DIR -> the bus's ticks stream. Rejected records go to the\n"
    "dead-letter file. While the bus is down the journal keeps the feed;\n"
    "a restart resumes where the journal and DIR/published.state say.\n"
    "Ends when the feed ends and everything is published; SIGINT/SIGTERM\n"
    "stop cleanly (a second one exits at once; the journal keeps all).\n"
    "\n"
    "options:\n"
    "      --bus URL            nats://H:P[,...] or kafka://H:P[,...]\n"
    "                           (bus.url, else $FXPIPE_BUS)\n"
    "      --bus-prefix P       subject / topic prefix (bus.prefix)\n"
    "      --journal DIR        the journal and the published state\n"
    "                           (ingest.journal)\n"
    "      --dlq FILE|none      dead-letter file (DIR/rejects.dlq)\n"
    "      --id ID              names this ingest in ids (ingest)\n"
    "      --health ADDR        serve /healthz /readyz /metrics on\n"
    "                           ADDR (127.0.0.1:PORT; ingest.health)\n"
    "      --stop-deadline SEC  drain time after a stop request (30)\n"
    "      --breaker-open SEC   bus breaker: time open before a probe (30)\n"
    "  -c, --config FILE        configuration file (also $FXPIPE_CONFIG)\n"
    "feed options (config entries, as for 'fxpipe run'):\n"
    "      --feed FEED          synthetic | replay:FILE (feed.feed)\n"
    "      --symbols LIST       synthetic symbols (feed.symbols)\n"
    "      --from WHEN          feed start, ISO-8601 or Unix ms (feed.from)\n"
    "      --to WHEN            feed end (feed.to)\n"
    "      --speed N|max        1 = real time, N x faster (feed.speed)\n"
    "      --seed N             synthetic feed seed (feed.seed)\n"
    "      --holidays WHICH     default | none | FILE (calendar.holidays)\n"
    "  -h, --help               show this help\n"
    "Validation limits, journal fsync and retention come from the\n"
    "configuration (validate.*, journal.*), as for 'fxpipe run'.\n"
    "\n"
    "Exit status: 0 done or stopped, 1 the service failed, 2 bad usage or\n"
    "config (also a journal of another feed), 3 a file is unusable.\n";

static const struct {
    const char *flag, *entry;
} flag_entries[] = {
    {"feed", "feed.feed"},
    {"symbols", "feed.symbols"},
    {"from", "feed.from"},
    {"to", "feed.to"},
    {"speed", "feed.speed"},
    {"seed", "feed.seed"},
    {"holidays", "calendar.holidays"},
};
#define N_FLAG_ENTRIES (sizeof flag_entries / sizeof flag_entries[0])

enum {
    OPT_BUS = 2000,
    OPT_PREFIX,
    OPT_JOURNAL,
    OPT_DLQ,
    OPT_ID,
    OPT_HEALTH,
    OPT_DEADLINE,
    OPT_BREAKER
};

static const struct option extra_opts[] = {
    {"bus", required_argument, NULL, OPT_BUS},
    {"bus-prefix", required_argument, NULL, OPT_PREFIX},
    {"journal", required_argument, NULL, OPT_JOURNAL},
    {"dlq", required_argument, NULL, OPT_DLQ},
    {"id", required_argument, NULL, OPT_ID},
    {"health", required_argument, NULL, OPT_HEALTH},
    {"stop-deadline", required_argument, NULL, OPT_DEADLINE},
    {"breaker-open", required_argument, NULL, OPT_BREAKER},
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
};
#define N_EXTRA (sizeof extra_opts / sizeof extra_opts[0])

struct args {
    const char *bus, *prefix, *journal, *dlq, *id, *health;
    double deadline_s, breaker_s;
};

static void on_event(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "ingest: %s\n", msg);
}

/* Seconds as a flag: a number in [0, max]. */
static int seconds(const char *flag, const char *s, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || v > max) {
        fxp_cli_error("ingest", "--%s: bad number of seconds '%s'", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* The second pass over the flags (config file and env already applied).
 * Returns an exit status. */
static int parse(int argc, char **argv, const struct option *opts,
                 struct fxp_config *cfg, struct args *a)
{
    char err[700];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c >= 1000 && c < 1000 + (int)N_FLAG_ENTRIES) {
            const char *entry = flag_entries[c - 1000].entry;
            if (fxp_config_set(cfg, entry, optarg, FXP_CONFIG_FROM_FLAG, err,
                               sizeof err)) {
                fxp_cli_error("ingest", "--%s: %s", flag_entries[c - 1000].flag,
                              err);
                return FXP_EXIT_USAGE;
            }
            continue;
        }
        switch (c) {
        case OPT_BUS:
            a->bus = optarg;
            break;
        case OPT_PREFIX:
            a->prefix = optarg;
            break;
        case OPT_JOURNAL:
            a->journal = optarg;
            break;
        case OPT_DLQ:
            a->dlq = optarg;
            break;
        case OPT_ID:
            a->id = optarg;
            break;
        case OPT_HEALTH:
            a->health = optarg;
            break;
        case OPT_DEADLINE:
            if (seconds("stop-deadline", optarg, 86400, &a->deadline_s))
                return FXP_EXIT_USAGE;
            break;
        case OPT_BREAKER:
            if (seconds("breaker-open", optarg, 86400, &a->breaker_s))
                return FXP_EXIT_USAGE;
            break;
        case 'c':
            break;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fxp_cli_error("ingest", "unexpected argument '%s'", argv[optind]);
        return FXP_EXIT_USAGE;
    }
    a->bus = fxp_cli_bus_url(a->bus, cfg);
    if (!a->bus) {
        fxp_cli_error("ingest",
                      "no bus: give --bus URL, bus.url or $FXPIPE_BUS");
        return FXP_EXIT_USAGE;
    }
    a->journal = fxp_cli_pick(a->journal, cfg->ingest_journal);
    a->health = fxp_cli_pick(a->health, cfg->ingest_health);
    if (strncmp(a->bus, "nats://", 7) && strncmp(a->bus, "kafka://", 8)) {
        fxp_cli_error("ingest",
                      "bad bus url '%s' (nats://HOST:PORT[,...] or "
                      "kafka://HOST:PORT[,...])",
                      a->bus);
        return FXP_EXIT_USAGE;
    }
    if (!a->journal || !a->journal[0]) {
        fxp_cli_error("ingest", "no journal: give --journal DIR");
        return FXP_EXIT_USAGE;
    }
    if (a->prefix && !a->prefix[0]) {
        fxp_cli_error("ingest", "--bus-prefix: empty");
        return FXP_EXIT_USAGE;
    }
    a->prefix = fxp_cli_pick(a->prefix, cfg->bus_prefix);
    return FXP_EXIT_OK;
}

static void summary(const struct fxp_ingest_stats *s)
{
    uint64_t backlog = s->journal_head > s->published_seq
                           ? s->journal_head - s->published_seq
                           : 0;
    fprintf(stderr,
            "ingest: %" PRIu64 " read, %" PRIu64 " accepted, %" PRIu64
            " rejected, %" PRIu64 " published (%" PRIu64 " messages, %" PRIu64
            " sent again), backlog left %" PRIu64 " (journal head %" PRIu64
            ", published through %" PRIu64 "), in %.2f s\n",
            s->read, s->accepted, s->rejected, s->published, s->messages,
            s->resent, backlog, s->journal_head, s->published_seq,
            s->elapsed_s);
    if (s->flush_failures || s->breaker_opens)
        fprintf(stderr,
                "ingest: %" PRIu64 " failed attempts to reach the bus, "
                "breaker opened %" PRIu64 " times\n",
                s->flush_failures, s->breaker_opens);
    if (s->resent_rejects)
        fprintf(stderr,
                "ingest: %" PRIu64 " rejects of an earlier run read again "
                "(already in the dead-letter file)\n",
                s->resent_rejects);
    for (int r = 1; r < FXP_R_COUNT; r++)
        if (s->rejected_by[r])
            fprintf(stderr, "ingest:   rejected %-13s %" PRIu64 "  (%s)\n",
                    fxp_reason_name((fxp_reason)r), s->rejected_by[r],
                    fxp_reason_desc((fxp_reason)r));
}

/* Set up, run, report. Returns an exit status. */
static int serve(const struct fxp_config *cfg, const struct args *a)
{
    struct fxp_cli_feed feed = {0};
    int status = fxp_cli_feed_check(&feed, cfg, "ingest");
    if (status != FXP_EXIT_OK)
        return status;
    struct fxp_cli_core core;
    fxp_cli_core_init(&core);
    core.holidays = cfg->calendar_holidays;
    core.session = (fxp_session)cfg->bars_session;
    struct fxp_symtab *st = NULL;
    struct fxp_health *health = NULL;
    struct fxp_ingest *ing = NULL;
    char err[1400], dlq[1100], feed_id[1300], what[1500];
    if (fxp_cli_core_open(&core, "ingest") != FXP_OK) {
        status = FXP_EXIT_IO;
        goto done;
    }
    status = fxp_cli_feed_range(&feed, &core, "ingest");
    if (status != FXP_EXIT_OK)
        goto done;
    st = fxp_symtab_new(4096);
    if (!st) {
        status = FXP_EXIT_FAIL;
        goto done;
    }
    feed.st = st;
    if (a->health &&
        fxp_health_start(a->health, "ingest", &health, err, sizeof err)) {
        fxp_cli_error("ingest", "--health %s: %s", a->health, err);
        status = FXP_EXIT_USAGE;
        goto done;
    }

    struct fxp_ingest_cfg ic;
    fxp_ingest_cfg_default(&ic);
    ic.bus_url = a->bus;
    if (a->prefix)
        ic.bus.prefix = a->prefix;
    ic.bus.client_id = "fxpipe-ingest";
    ic.journal_dir = a->journal;
    ic.jnl.fsync = (fxp_fsync_policy)cfg->journal_fsync;
    ic.jnl.fsync_every_ms = (int)cfg->journal_fsync_ms;
    ic.jnl.retain_bytes = (uint64_t)cfg->journal_retain_mb << 20;
    if (!a->dlq)
        snprintf(dlq, sizeof dlq, "%s/rejects.dlq", a->journal);
    else
        snprintf(dlq, sizeof dlq, "%s", a->dlq);
    ic.dlq_path = strcmp(dlq, "none") ? dlq : NULL;
    if (a->id)
        ic.id = a->id;
    fxp_cli_feed_id(&feed, feed_id, sizeof feed_id);
    ic.feed_id = feed_id;
    ic.validate.max_spread_frac = cfg->validate_max_spread_frac;
    ic.validate.max_jump_frac = cfg->validate_max_jump_frac;
    ic.cal = core.cal;
    ic.batch_size = (size_t)cfg->pipeline_batch_size;
    if (a->deadline_s >= 0)
        ic.stop_deadline_ms = (int64_t)(a->deadline_s * 1000);
    if (a->breaker_s >= 0)
        ic.breaker_open_ms = (int64_t)(a->breaker_s * 1000);
    ic.health = health;
    ic.on_event = on_event;
    int rc = fxp_ingest_new(&ic, fxp_cli_feed_open, &feed, st, &ing, err,
                            sizeof err);
    if (rc != FXP_OK) {
        fxp_cli_error("ingest", "%s", err);
        status =
            rc == FXP_EEXIST || rc == FXP_EINVAL ? FXP_EXIT_USAGE : FXP_EXIT_IO;
        goto done;
    }
    fxp_cli_feed_describe(&feed, what, sizeof what);
    fprintf(stderr, "ingest: %s -> %s (prefix %s), journal '%s'\n", what,
            a->bus, ic.bus.prefix, a->journal);
    struct fxp_ingest_stats s;
    fxp_ingest_stats(ing, &s);
    if (s.journal_head)
        fprintf(stderr,
                "ingest: resuming: journal head %" PRIu64
                ", published through %" PRIu64
                "; the feed skips through position %" PRIu64 "\n",
                s.journal_head, s.published_seq, s.skipped_through);
    if (health)
        fprintf(stderr, "ingest: health on port %u\n",
                (unsigned)fxp_health_port(health));

    fxp_cli_signals_install();
    rc = fxp_ingest_run(ing, &fxp_cli_stop, err, sizeof err);
    fxp_ingest_stats(ing, &s);
    summary(&s);
    if (rc != FXP_OK) {
        fxp_cli_error("ingest", "%s", err);
        status = rc == FXP_ENOENT ? FXP_EXIT_IO : FXP_EXIT_FAIL;
        goto done;
    }
    if (s.journal_head > s.published_seq)
        fprintf(stderr,
                "ingest: %" PRIu64 " journaled ticks are not published yet; "
                "the next start publishes them\n",
                s.journal_head - s.published_seq);
    if (fxp_cli_stop)
        fprintf(stderr, "ingest: stopped by signal\n");
    status = FXP_EXIT_OK;
done:
    fxp_health_stop(health); /* before the checks' ud goes */
    fxp_ingest_free(ing);
    fxp_symtab_free(st);
    fxp_cli_core_close(&core);
    return status;
}

int cmd_ingest(int argc, char **argv)
{
    struct option opts[N_FLAG_ENTRIES + N_EXTRA + 1];
    for (size_t i = 0; i < N_FLAG_ENTRIES; i++)
        opts[i] = (struct option){flag_entries[i].flag, required_argument, NULL,
                                  1000 + (int)i};
    for (size_t i = 0; i < N_EXTRA; i++)
        opts[N_FLAG_ENTRIES + i] = extra_opts[i];
    opts[N_FLAG_ENTRIES + N_EXTRA] = (struct option){NULL, 0, NULL, 0};

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
    int status = fxp_cli_config_load(&cfg, config, "ingest");
    if (status != FXP_EXIT_OK)
        return status;
    struct args a = {.deadline_s = -1, .breaker_s = -1};
    status = parse(argc, argv, opts, &cfg, &a);
    if (status != FXP_EXIT_OK)
        return status;
    return serve(&cfg, &a);
}
