/*
 * serve_health.c - health and metrics of a scheduled job (serve_health.h).
 *
 * The job is ready once a run has finished without failing (exit status 0
 * or 1: complete, or gaps found); a run that could not reach the store
 * (status 3) or failed otherwise makes /readyz answer 503 until the next
 * good run.
 */
#include "cli/serve_health.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "fxpipe/health.h"

struct fxp_serve_health {
    struct fxp_health *h;
    struct fxp_counter *runs, *failed;
    struct fxp_gauge *took, *status;
    atomic_int last; /* -1: no run yet */
};

static fxp_err check_last(void *ud, int timeout_ms, char *detail, size_t len)
{
    (void)timeout_ms;
    struct fxp_serve_health *s = ud;
    int last = atomic_load(&s->last);
    if (last < 0) {
        snprintf(detail, len, "no run finished yet");
        return FXP_EAGAIN;
    }
    snprintf(detail, len, "last run exited %d", last);
    return last <= 1 ? FXP_OK : FXP_EUNAVAIL;
}

int fxp_serve_health_start(const char *addr, const char *cmd,
                           struct fxp_serve_health **out)
{
    char err[600];
    struct fxp_serve_health *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return FXP_EXIT_FAIL;
    atomic_init(&s->last, -1);
    if (fxp_health_start(addr, cmd, &s->h, err, sizeof err) != FXP_OK) {
        fxp_cli_error(cmd, "--health %s: %s", addr, err);
        free(s);
        return FXP_EXIT_USAGE;
    }
    fxp_health_add_dep(s->h, "last-run", true, check_last, s);
    s->runs = fxp_health_counter(s->h, "fxpipe_gaps_runs_total",
                                 "Scheduled runs finished", NULL);
    s->failed = fxp_health_counter(s->h, "fxpipe_gaps_failed_runs_total",
                                   "Runs that failed (exit 2 or 3)", NULL);
    s->took = fxp_health_gauge(s->h, "fxpipe_gaps_last_run_seconds",
                               "Duration of the last run", NULL);
    s->status = fxp_health_gauge(s->h, "fxpipe_gaps_last_status",
                                 "Exit status of the last run", NULL);
    fxp_health_set_state(s->h, FXP_HEALTH_RUNNING);
    fprintf(stderr, "%s: health on port %u (/healthz /readyz /metrics)\n", cmd,
            (unsigned)fxp_health_port(s->h));
    *out = s;
    return FXP_EXIT_OK;
}

void fxp_serve_health_run(struct fxp_serve_health *s, int status, double took_s)
{
    if (!s)
        return;
    fxp_counter_inc(s->runs);
    if (status > 1)
        fxp_counter_inc(s->failed);
    fxp_gauge_set(s->took, took_s);
    fxp_gauge_set(s->status, status);
    atomic_store(&s->last, status);
}

void fxp_serve_health_stop(struct fxp_serve_health *s)
{
    if (!s)
        return;
    fxp_health_stop(s->h);
    free(s);
}
