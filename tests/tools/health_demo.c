/*
 * health_demo.c - a tiny program that serves the health endpoints (health.h)
 * for tests against a real Prometheus: it listens on ADDR (default
 * 127.0.0.1:0), prints "port N" on stdout, registers a counter, a gauge,
 * a callback gauge and a breaker-state gauge, bumps the counter every
 * 100 ms and exits 0 on SIGTERM or SIGINT.
 *
 *   health_demo [127.0.0.1:PORT]
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fxpipe/breaker.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double uptime_seconds(void *ud)
{
    const struct timespec *t0 = ud;
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) +
           (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static fxp_err self_check(void *ud, int timeout_ms, char *detail, size_t len)
{
    (void)ud;
    (void)timeout_ms;
    snprintf(detail, len, "demo alive");
    return FXP_OK;
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:0";
    struct timespec t0, tick = {0, 100 * 1000000L};
    struct fxp_breaker_cfg bcfg;
    struct fxp_breaker *br;
    struct fxp_health *h;
    struct fxp_counter *ticks;
    struct fxp_gauge *depth;
    struct sigaction sa;
    char err[256];
    fxp_err rc;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fxp_breaker_cfg_default(&bcfg, "demo");
    br = fxp_breaker_new(&bcfg);
    if (!br) {
        fprintf(stderr, "health_demo: out of memory\n");
        return 1;
    }
    rc = fxp_health_start(addr, "health_demo", &h, err, sizeof err);
    if (rc != FXP_OK) {
        fprintf(stderr, "health_demo: %s\n", err);
        fxp_breaker_free(br);
        return 1;
    }
    ticks = fxp_health_counter(h, "fxpipe_demo_ticks_total",
                               "Ticks produced by the demo", "stage=\"demo\"");
    depth = fxp_health_gauge(h, "fxpipe_demo_queue_depth",
                             "Items waiting in the demo queue", NULL);
    if (!ticks || !depth ||
        fxp_health_gauge_fn(h, "fxpipe_demo_uptime_seconds",
                            "Seconds since the demo started", NULL,
                            uptime_seconds, &t0) != FXP_OK ||
        fxp_health_gauge_fn(h, "fxpipe_breaker_state",
                            "Circuit breaker state: 0 closed, 1 open, "
                            "2 half-open",
                            "dep=\"demo\"", fxp_health_breaker_value,
                            br) != FXP_OK ||
        fxp_health_add_dep(h, "self", true, self_check, NULL) != FXP_OK ||
        fxp_health_add_dep(h, "breaker", false, fxp_health_breaker_check, br) !=
            FXP_OK) {
        fprintf(stderr, "health_demo: cannot register metrics\n");
        fxp_health_stop(h);
        fxp_breaker_free(br);
        return 1;
    }
    fxp_health_set_state(h, FXP_HEALTH_RUNNING);
    printf("port %u\n", fxp_health_port(h));
    fflush(stdout);
    while (!stop_requested) {
        nanosleep(&tick, NULL);
        fxp_counter_inc(ticks);
        fxp_gauge_set(depth, (double)(fxp_counter_get(ticks) % 10));
    }
    fxp_health_set_state(h, FXP_HEALTH_STOPPING);
    fxp_health_stop(h);
    fxp_breaker_free(br);
    return 0;
}
