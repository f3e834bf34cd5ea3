/*
 * cmd_aggregate.c - `fxpipe aggregate`: the service between ingest and the
 * bridge. Bus ticks -> local journal -> the bar engine -> bus bars.
 *
 * It is `fxpipe run`'s pipeline with the bus at both ends: the source is
 * the TICKS stream (source_bus.c), the store is the BARS stream
 * (store_bus.c). Ticks are journaled on local disk before they reach the
 * engine and only then committed on the bus, so a restart replays the
 * journal to rebuild every bar that was not final (pipeline.c, note 5) and
 * the bus redelivers only what was never journaled; ticks seen twice are
 * dropped by their ingest sequence.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/jobs.h"
#include "fxpipe/bus.h"
#include "fxpipe/bus_store.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/journal.h"
#include "fxpipe/source.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"

static const char usage_text[] =
    "usage: fxpipe aggregate --bus URL [options]\n"
    "\n"
    "The aggregation service: validated ticks from the bus (published by\n"
    "'fxpipe ingest') -> a local journal -> candles in every timeframe ->\n"
    "the bus's bars stream (stored by 'fxpipe bridge'). SIGINT/SIGTERM stop\n"
    "cleanly: open bars are published as they stand and completed after a\n"
    "restart.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE        configuration file (also $FXPIPE_CONFIG)\n"
    "      --bus URL            nats://H:P[,H:P..] | kafka://H:P[,..]\n"
    "                           (bus.url, else $FXPIPE_BUS)\n"
    "      --bus-prefix P       subject/topic prefix (bus.prefix)\n"
    "      --group NAME         consumer group on the ticks stream "
    "(aggregate)\n"
    "      --journal DIR        the local tick journal (aggregate.journal);\n"
    "                           its state file is DIR.state\n"
    "      --timeframes LIST    bars to build (bars.timeframes)\n"
    "      --session NAME       ny-close | utc (bars.session)\n"
    "      --price BASIS        mid | bid | ask (bars.price)\n"
    "      --health ADDR        serve /healthz /readyz /metrics on ADDR\n"
    "                           (127.0.0.1:PORT; aggregate.health); off by\n"
    "                           default\n"
    "      --idle-exit SEC      stop cleanly after SEC seconds without input\n"
    "                           (0: run until a signal; the default)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 stopped cleanly, 1 failed, 2 bad usage, 3 the bus or the\n"
    "journal is unusable.\n";

struct agg_ctx {
    struct fxp_bus *in;
    struct fxp_symtab *st;
    int64_t idle_ms;
    uint64_t last_ticks;
    double last_change;
    /* For /metrics and /readyz (read on the HTTP threads). */
    pthread_mutex_t mu;
    struct fxp_pipeline_stats last;
    struct fxp_bus *probe; /* a handle of its own for the bus check */
};

/* Metrics read the last progress snapshot. */
#define STAT_GAUGE(fn, expr)                                                   \
    static double fn(void *ud)                                                 \
    {                                                                          \
        struct agg_ctx *a = ud;                                                \
        pthread_mutex_lock(&a->mu);                                            \
        double v = (double)(expr);                                             \
        pthread_mutex_unlock(&a->mu);                                          \
        return v;                                                              \
    }
STAT_GAUGE(g_ticks, a->last.ticks_read)
STAT_GAUGE(g_replayed, a->last.replayed)
STAT_GAUGE(g_late, a->last.rejected[FXP_R_LATE])
STAT_GAUGE(g_writes, a->last.store_writes)
STAT_GAUGE(g_retries, a->last.store_retries)
STAT_GAUGE(g_paused, a->last.paused_ms / 1000.0)
STAT_GAUGE(g_bars, a->last.bars_stored[0] + a->last.bars_stored[1] +
                       a->last.bars_stored[2] + a->last.bars_stored[3] +
                       a->last.bars_stored[4] + a->last.bars_stored[5] +
                       a->last.bars_stored[6] + a->last.bars_stored[7])

static fxp_err check_bus(void *ud, int timeout_ms, char *detail, size_t len)
{
    struct agg_ctx *a = ud;
    int rc = fxp_bus_ping(a->probe, timeout_ms);
    snprintf(detail, len, "%s",
             rc == FXP_OK ? "reachable" : fxp_bus_errmsg(a->probe));
    return (fxp_err)rc;
}

/* The health server, its bus check and the metrics; prints errors. */
static int start_health(struct agg_ctx *a, const char *addr,
                        const char *bus_url, const struct fxp_bus_opts *bo,
                        struct fxp_health **out)
{
    char err[600];
    struct fxp_bus_opts po = *bo;
    po.group = NULL;
    if (fxp_bus_open(bus_url, &po, &a->probe, err, sizeof err) != FXP_OK ||
        fxp_health_start(addr, "aggregate", out, err, sizeof err) != FXP_OK) {
        fxp_cli_error("aggregate", "--health %s: %s", addr, err);
        return FXP_EXIT_IO;
    }
    struct fxp_health *h = *out;
    static const struct {
        const char *name, *help;
        fxp_gauge_fn fn;
    } g[] = {
        {"fxpipe_aggregate_ticks", "Ticks read from the bus", g_ticks},
        {"fxpipe_aggregate_replayed", "Ticks replayed from the journal",
         g_replayed},
        {"fxpipe_aggregate_late", "Ticks rejected as too late", g_late},
        {"fxpipe_aggregate_bars", "Bar rows published", g_bars},
        {"fxpipe_aggregate_publishes", "Batches published and confirmed",
         g_writes},
        {"fxpipe_aggregate_retries", "Publishes retried", g_retries},
        {"fxpipe_aggregate_paused_seconds", "Time intake waited for room",
         g_paused},
    };
    fxp_health_add_dep(h, "bus", true, check_bus, a);
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        fxp_health_gauge_fn(h, g[i].name, g[i].help, NULL, g[i].fn, a);
    fprintf(stderr,
            "aggregate: health on port %u (/healthz /readyz /metrics)\n",
            (unsigned)fxp_health_port(h));
    return FXP_EXIT_OK;
}

static int open_bus_source(void *ud, size_t index, fxp_csv_bad_fn on_bad,
                           void *bad_ud, struct fxp_source **out, char *errbuf,
                           size_t errlen)
{
    (void)index, (void)on_bad, (void)bad_ud;
    struct agg_ctx *a = ud;
    return fxp_source_open_bus(a->in, a->st, 200, out, errbuf, errlen);
}

/* Progress hook: stop after idle_ms without new ticks. */
static void on_progress(void *ud, const struct fxp_pipeline_stats *s)
{
    struct agg_ctx *a = ud;
    double now = fxp_cli_now();
    pthread_mutex_lock(&a->mu);
    a->last = *s;
    pthread_mutex_unlock(&a->mu);
    uint64_t n = s->ticks_read + s->replayed;
    if (n != a->last_ticks || a->last_change == 0) {
        a->last_ticks = n;
        a->last_change = now;
    } else if (a->idle_ms > 0 && (now - a->last_change) * 1000 >= a->idle_ms &&
               !fxp_cli_stop) {
        fprintf(stderr, "aggregate: no input for %lld s; stopping\n",
                (long long)(a->idle_ms / 1000));
        fxp_cli_stop = 1;
    }
}

static void journal_warn(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "aggregate: warning: %s\n", msg);
}

/* Open a bus handle, waiting up to its connect timeout; prints errors. */
static int open_bus(const char *url, const struct fxp_bus_opts *o,
                    struct fxp_bus **out)
{
    char err[600];
    int rc = fxp_bus_open(url, o, out, err, sizeof err);
    if (rc != FXP_OK) {
        fxp_cli_error("aggregate", "%s", err);
        return rc == FXP_EINVAL ? FXP_EXIT_USAGE : FXP_EXIT_IO;
    }
    return FXP_EXIT_OK;
}

enum {
    O_BUS = 1000,
    O_PREFIX,
    O_GROUP,
    O_JOURNAL,
    O_TF,
    O_SESSION,
    O_PRICE,
    O_IDLE,
    O_HEALTH
};

int cmd_aggregate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"bus", required_argument, NULL, O_BUS},
        {"bus-prefix", required_argument, NULL, O_PREFIX},
        {"group", required_argument, NULL, O_GROUP},
        {"journal", required_argument, NULL, O_JOURNAL},
        {"timeframes", required_argument, NULL, O_TF},
        {"session", required_argument, NULL, O_SESSION},
        {"price", required_argument, NULL, O_PRICE},
        {"idle-exit", required_argument, NULL, O_IDLE},
        {"health", required_argument, NULL, O_HEALTH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *bus_url = NULL;
    const char *prefix = NULL, *group = "aggregate";
    const char *jdir = NULL;
    const char *tf = NULL, *session = NULL, *price = NULL, *health = NULL;
    int64_t idle_s = 0;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case O_BUS:
            bus_url = optarg;
            break;
        case O_PREFIX:
            prefix = optarg;
            break;
        case O_GROUP:
            group = optarg;
            break;
        case O_JOURNAL:
            jdir = optarg;
            break;
        case O_TF:
            tf = optarg;
            break;
        case O_SESSION:
            session = optarg;
            break;
        case O_PRICE:
            price = optarg;
            break;
        case O_HEALTH:
            health = optarg;
            break;
        case O_IDLE:
            if (fxp_cli_int(optarg, 0, 86400 * 365, &idle_s)) {
                fxp_cli_error("aggregate", "bad --idle-exit '%s'", optarg);
                return FXP_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(usage_text, stdout);
            return FXP_EXIT_OK;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fxp_cli_error("aggregate", "unexpected argument '%s'", argv[optind]);
        return FXP_EXIT_USAGE;
    }
    struct fxp_config cfg;
    int status = fxp_cli_config_load(&cfg, config, "aggregate");
    if (status != FXP_EXIT_OK)
        return status;
    bus_url = fxp_cli_bus_url(bus_url, &cfg);
    if (!bus_url) {
        fxp_cli_error("aggregate",
                      "no bus: give --bus URL, bus.url or $FXPIPE_BUS");
        return FXP_EXIT_USAGE;
    }
    prefix = fxp_cli_pick(prefix, cfg.bus_prefix);
    jdir = fxp_cli_pick(jdir, cfg.aggregate_journal);
    health = fxp_cli_pick(health, cfg.aggregate_health);
    char err[700];
    const char *sets[][2] = {{"bars.timeframes", tf},
                             {"bars.session", session},
                             {"bars.price", price}};
    for (size_t i = 0; i < 3; i++)
        if (sets[i][1] &&
            fxp_config_set(&cfg, sets[i][0], sets[i][1], FXP_CONFIG_FROM_FLAG,
                           err, sizeof err)) {
            fxp_cli_error("aggregate", "%s", err);
            return FXP_EXIT_USAGE;
        }

    struct fxp_cli_core core;
    fxp_cli_core_init(&core);
    core.holidays = cfg.calendar_holidays;
    core.session = (fxp_session)cfg.bars_session;
    struct fxp_bus *in = NULL, *out = NULL;
    struct fxp_store *sink = NULL;
    struct fxp_journal *journal = NULL;
    struct fxp_symtab *st = NULL;
    struct agg_ctx a = {.idle_ms = idle_s * 1000};
    struct fxp_health *hs = NULL;
    pthread_mutex_init(&a.mu, NULL);
    char state[700], feed_id[300], corr[64];
    status = FXP_EXIT_IO;
    if (fxp_cli_core_open(&core, "aggregate") != FXP_OK)
        goto done;
    struct fxp_pipeline_cfg pc;
    status = fxp_cli_pipeline_cfg(&cfg, &core, "aggregate", &pc);
    if (status != FXP_EXIT_OK)
        goto done;
    pc.agg.source = FXP_SRC_LIVE;
    pc.validated_input = true; /* ingest validated and filtered them */
    pc.keep_ticks = false;
    pc.job = "aggregate";
    /* The bus is the store: its retries never give up (the journal holds
     * everything); the breaker pauses intake while it is down. */
    pc.retry.max_attempts = 1 << 30;
    pc.dlq_path = NULL;

    struct fxp_bus_opts bo;
    fxp_bus_opts_default(&bo);
    bo.prefix = prefix;
    bo.group = group;
    bo.client_id = "fxpipe-aggregate";
    if ((status = open_bus(bus_url, &bo, &in)) != FXP_EXIT_OK ||
        (status = open_bus(bus_url, &bo, &out)) != FXP_EXIT_OK)
        goto done;
    if (fxp_bus_subscribe(in, FXP_BUS_TICKS) != FXP_OK) {
        fxp_cli_error("aggregate", "cannot subscribe to the ticks: %s",
                      fxp_bus_errmsg(in));
        status = FXP_EXIT_IO;
        goto done;
    }
    snprintf(state, sizeof state, "%s.state", jdir);
    snprintf(corr, sizeof corr, "aggregate-%ld", (long)getpid());
    if (fxp_store_open_bus(out, FXP_BUS_BARS, state, corr, NULL, &sink, err,
                           sizeof err) != FXP_OK) {
        fxp_cli_error("aggregate", "%s", err);
        status = FXP_EXIT_IO;
        goto done;
    }
    struct fxp_journal_opts jo;
    fxp_journal_opts_default(&jo);
    jo.fsync = (fxp_fsync_policy)cfg.journal_fsync;
    jo.fsync_every_ms = (int)cfg.journal_fsync_ms;
    jo.retain_bytes = (uint64_t)cfg.journal_retain_mb << 20;
    jo.on_warn = journal_warn;
    if (fxp_journal_open(jdir, &jo, &journal, err, sizeof err) != FXP_OK) {
        fxp_cli_error("aggregate", "%s", err);
        goto done;
    }
    snprintf(feed_id, sizeof feed_id, "bus:%s:%s", prefix, group);
    pc.journal = journal;
    pc.journal_dir = jdir;
    pc.feed_id = feed_id;
    st = fxp_symtab_new(pc.agg.max_symbols);
    if (!st) {
        status = FXP_EXIT_FAIL;
        goto done;
    }
    a.in = in;
    a.st = st;
    if (health &&
        (status = start_health(&a, health, bus_url, &bo, &hs)) != FXP_EXIT_OK)
        goto done;
    fxp_health_set_state(hs, FXP_HEALTH_RUNNING);
    fprintf(stderr, "aggregate: %s ticks -> bars (group %s, journal %s)\n",
            bus_url, group, jdir);

    fxp_cli_signals_install();
    struct fxp_pipeline_stats stats;
    int rc =
        fxp_pipeline_run(&pc, open_bus_source, &a, 1, st, sink, &fxp_cli_stop,
                         on_progress, &a, &stats, err, sizeof err);
    if (stats.replayed)
        fprintf(stderr, "aggregate: %llu ticks replayed from the journal\n",
                (unsigned long long)stats.replayed);
    fxp_cli_summary(stderr, "aggregate", &stats);
    status = FXP_EXIT_OK;
    if (rc != FXP_OK) {
        fxp_cli_error("aggregate", "%s", err);
        status = FXP_EXIT_FAIL;
    }
done:
    fxp_health_stop(hs);
    fxp_bus_close(a.probe);
    pthread_mutex_destroy(&a.mu);
    fxp_store_close(sink);
    fxp_bus_close(out);
    fxp_bus_close(in);
    fxp_journal_close(journal);
    fxp_symtab_free(st);
    fxp_cli_core_close(&core);
    return status;
}
