/*
 * cmd_bridge.c - `fxpipe bridge`: the service that moves bars from the bus
 * into one or more stores (bridge.h, docs/services/bridge.md). Parses the
 * command line, loads the configuration (retry, breaker and store
 * settings), starts the optional health server, runs the bridge until
 * SIGINT/SIGTERM and prints a one-line summary.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/jobs.h"
#include "fxpipe/bridge.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"

static const char usage_text[] =
    "usage: fxpipe bridge --bus URL --store URL [--store URL ...] [options]\n"
    "\n"
    "Move bars from the bus (stream 'bars') into every store named: each\n"
    "fetch of messages is decoded, merged and written to every store, and\n"
    "committed on the bus only once every store holds it (or, after the\n"
    "last retry, the dead-letter file does). A redelivered message changes\n"
    "nothing: stores keep the highest version of a bar.\n"
    "SIGINT/SIGTERM finish the batch in hand and stop (a second one exits\n"
    "at once; the bus delivers what was not committed again).\n"
    "\n"
    "options:\n"
    "      --bus URL            nats://HOST:PORT or kafka://HOST:PORT\n"
    "                           (bus.url, else $FXPIPE_BUS)\n"
    "      --store URL          a store that must hold every batch; repeat\n"
    "                           for more (default: bridge.stores, else\n"
    "                           store.db); sqlite:PATH,\n"
    "                           postgresql://..., clickhouse://...\n"
    "      --store-optional URL a store whose failure only degrades\n"
    "                           readiness: its batches go to the dead-letter\n"
    "                           file after the last retry\n"
    "      --group NAME         consumer group (default: bridge)\n"
    "      --bus-prefix P       subject / topic prefix (bus.prefix; also\n"
    "                           --prefix)\n"
    "      --dlq FILE|none      dead-letter file (default: store.dlq, else\n"
    "                           the first store's path with .dlq); none: a\n"
    "                           required store is retried until it is back\n"
    "      --batch N            messages per fetch (default: 64)\n"
    "      --health ADDR        serve /healthz, /readyz and /metrics on\n"
    "                           ADDR, e.g. 127.0.0.1:9102 (bridge.health;\n"
    "                           default: off)\n"
    "      --wait SEC           wait at start for the bus and the stores\n"
    "                           (default: 60)\n"
    "      --stop-deadline SEC  time to finish the batch in hand after a\n"
    "                           stop request (store.stop_deadline_ms)\n"
    "  -c, --config FILE        configuration file (retries, breaker,\n"
    "                           store settings; also $FXPIPE_CONFIG)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 stopped cleanly, 1 failed (the dead-letter file could\n"
    "not be written), 2 bad usage/config, 3 the bus or a store was not\n"
    "reachable in time.\n";

enum {
    OPT_BUS = 1000,
    OPT_STORE,
    OPT_STORE_OPT,
    OPT_GROUP,
    OPT_PREFIX,
    OPT_DLQ,
    OPT_BATCH,
    OPT_HEALTH,
    OPT_WAIT,
    OPT_DEADLINE
};

static const struct option long_opts[] = {
    {"bus", required_argument, NULL, OPT_BUS},
    {"store", required_argument, NULL, OPT_STORE},
    {"db", required_argument, NULL, OPT_STORE},
    {"store-optional", required_argument, NULL, OPT_STORE_OPT},
    {"group", required_argument, NULL, OPT_GROUP},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"bus-prefix", required_argument, NULL, OPT_PREFIX},
    {"dlq", required_argument, NULL, OPT_DLQ},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"health", required_argument, NULL, OPT_HEALTH},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"stop-deadline", required_argument, NULL, OPT_DEADLINE},
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

struct bridge_args {
    const char *bus, *group, *prefix, *dlq, *health, *config;
    struct fxp_bridge_store stores[FXP_BRIDGE_MAX_STORES];
    size_t n_stores;
    int64_t batch, wait_s, deadline_s; /* -1: not given */
};

static void on_log(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "bridge: %s\n", msg);
}

/* Returns an exit status (FXP_EXIT_OK to go on). */
static int parse(int argc, char **argv, struct bridge_args *a, bool *help)
{
    memset(a, 0, sizeof *a);
    a->batch = a->wait_s = a->deadline_s = -1;
    *help = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case OPT_BUS:
            a->bus = optarg;
            break;
        case OPT_STORE:
        case OPT_STORE_OPT:
            if (a->n_stores == FXP_BRIDGE_MAX_STORES) {
                fxp_cli_error("bridge", "at most %d stores",
                              FXP_BRIDGE_MAX_STORES);
                return FXP_EXIT_USAGE;
            }
            a->stores[a->n_stores++] = (struct fxp_bridge_store){
                .url = optarg, .optional = c == OPT_STORE_OPT};
            break;
        case OPT_GROUP:
            a->group = optarg;
            break;
        case OPT_PREFIX:
            a->prefix = optarg;
            break;
        case OPT_DLQ:
            a->dlq = optarg;
            break;
        case OPT_HEALTH:
            a->health = optarg;
            break;
        case OPT_BATCH:
        case OPT_WAIT:
        case OPT_DEADLINE:
            if (fxp_cli_int(optarg, c == OPT_BATCH ? 1 : 0,
                            c == OPT_BATCH ? 100000 : 86400, &v)) {
                fxp_cli_error("bridge", "bad --%s '%s'",
                              c == OPT_BATCH  ? "batch"
                              : c == OPT_WAIT ? "wait"
                                              : "stop-deadline",
                              optarg);
                return FXP_EXIT_USAGE;
            }
            *(c == OPT_BATCH  ? &a->batch
              : c == OPT_WAIT ? &a->wait_s
                              : &a->deadline_s) = v;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'h':
            *help = true;
            return FXP_EXIT_OK;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fxp_cli_error("bridge", "unexpected argument '%s'", argv[optind]);
        return FXP_EXIT_USAGE;
    }
    return FXP_EXIT_OK;
}

static void summary(struct fxp_bridge *br)
{
    struct fxp_bridge_stats s;
    fxp_bridge_stats_get(br, &s);
    fprintf(stderr,
            "bridge: %llu messages, %llu bars, %llu rejects, %llu retries, "
            "%llu dead-lettered, %.1f s",
            (unsigned long long)s.messages, (unsigned long long)s.bars,
            (unsigned long long)s.rejects, (unsigned long long)s.retries,
            (unsigned long long)s.dead_lettered, s.elapsed_s);
    if (s.undecodable)
        fprintf(stderr, ", %llu undecodable",
                (unsigned long long)s.undecodable);
    if (s.uncommitted)
        fprintf(stderr, ", %llu not committed (delivered again on restart)",
                (unsigned long long)s.uncommitted);
    fputc('\n', stderr);
}

int cmd_bridge(int argc, char **argv)
{
    struct bridge_args a;
    bool help;
    int status = parse(argc, argv, &a, &help);
    if (help) {
        fputs(usage_text, stdout);
        return FXP_EXIT_OK;
    }
    if (status != FXP_EXIT_OK)
        return status;
    struct fxp_config cfg;
    status = fxp_cli_config_load(&cfg, a.config, "bridge");
    if (status != FXP_EXIT_OK)
        return status;
    bool had_flags = a.n_stores > 0;
    a.bus = fxp_cli_bus_url(a.bus, &cfg);
    if (!a.bus) {
        fxp_cli_error("bridge", "no bus: give --bus nats://HOST:PORT (or "
                                "kafka://...), bus.url or $FXPIPE_BUS");
        return FXP_EXIT_USAGE;
    }
    a.prefix = fxp_cli_pick(a.prefix, cfg.bus_prefix);
    a.health = fxp_cli_pick(a.health, cfg.bridge_health);
    /* bridge.stores: comma-separated URLs, when no --store was given. */
    for (char *p = cfg.bridge_stores;
         !had_flags && *p && a.n_stores < FXP_BRIDGE_MAX_STORES;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p)
            a.stores[a.n_stores++] =
                (struct fxp_bridge_store){.url = p, .optional = false};
        p = comma ? comma + 1 : p + strlen(p);
    }
    if (!a.n_stores)
        a.stores[a.n_stores++] =
            (struct fxp_bridge_store){.url = cfg.store_db, .optional = false};

    struct fxp_bridge_cfg bc;
    fxp_bridge_cfg_default(&bc);
    bc.bus_url = a.bus;
    if (a.group)
        bc.group = a.group;
    bc.prefix = a.prefix;
    bc.stores = a.stores;
    bc.n_stores = a.n_stores;
    bc.store.busy_timeout_ms = (int)cfg.store_busy_timeout_ms;
    bc.store.keep_ticks = cfg.store_keep_ticks;
    bc.store.tick_retention_ms = cfg.store_tick_retention_days * 86400000LL;
    char dlq_buf[FXP_CONFIG_PATH_MAX + 8];
    if (a.dlq)
        bc.dlq_path = strcmp(a.dlq, "none") ? a.dlq : NULL;
    else
        bc.dlq_path =
            fxp_cli_dlq_path(&cfg, a.stores[0].url, dlq_buf, sizeof dlq_buf);
    if (a.batch > 0)
        bc.batch = (size_t)a.batch;
    if (a.wait_s >= 0)
        bc.wait_ms = a.wait_s * 1000;
    bc.retry.max_attempts = (int)cfg.store_retry_attempts;
    bc.retry.base_ms = cfg.store_retry_base_ms;
    bc.retry.max_ms = cfg.store_retry_max_ms;
    bc.breaker_threshold = (uint32_t)cfg.store_breaker_threshold;
    bc.breaker_open_ms = cfg.store_breaker_open_ms;
    bc.stop_deadline_ms =
        a.deadline_s >= 0 ? a.deadline_s * 1000 : cfg.store_stop_deadline_ms;
    bc.on_log = on_log;

    char err[1700];
    struct fxp_health *health = NULL;
    if (a.health) {
        if (fxp_health_start(a.health, "bridge", &health, err, sizeof err)) {
            fxp_cli_error("bridge", "--health %s: %s", a.health, err);
            return FXP_EXIT_USAGE;
        }
        fprintf(stderr,
                "bridge: health on port %u (/healthz /readyz /metrics)\n",
                (unsigned)fxp_health_port(health));
        bc.health = health;
    }
    struct fxp_bridge *br = NULL;
    int rc = fxp_bridge_new(&bc, &br, err, sizeof err);
    if (rc != FXP_OK) {
        fxp_health_stop(health);
        fxp_cli_error("bridge", "%s", err);
        return rc == FXP_EINVAL ? FXP_EXIT_USAGE : FXP_EXIT_FAIL;
    }
    fxp_cli_signals_install();
    rc = fxp_bridge_run(br, &fxp_cli_stop, err, sizeof err);
    fxp_health_stop(health); /* before the bridge its checks read */
    summary(br);
    fxp_bridge_free(br);
    if (rc != FXP_OK) {
        fxp_cli_error("bridge", "%s", err);
        return rc == FXP_EINVAL     ? FXP_EXIT_USAGE
               : rc == FXP_EUNAVAIL ? FXP_EXIT_IO
                                    : FXP_EXIT_FAIL;
    }
    return FXP_EXIT_OK;
}
