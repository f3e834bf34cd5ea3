/*
 * serve_health.h - /healthz, /readyz and /metrics for a scheduled job
 * (`fxpipe gaps --serve --health ADDR`): each run's outcome is recorded by
 * the job's thread; the HTTP threads only read it.
 */
#ifndef FXPIPE_CLI_SERVE_HEALTH_H
#define FXPIPE_CLI_SERVE_HEALTH_H

struct fxp_serve_health;

/* Start on addr ("127.0.0.1:PORT"); prints errors naming cmd. Returns an
 * exit status (0 on success). */
int fxp_serve_health_start(const char *addr, const char *cmd,
                           struct fxp_serve_health **out);

/* Record a run: its exit status (0 complete, 1 gaps found, 2/3 failed)
 * and how long it took. NULL is a no-op. */
void fxp_serve_health_run(struct fxp_serve_health *s, int status,
                          double took_s);

/* Stop and free; NULL is a no-op. */
void fxp_serve_health_stop(struct fxp_serve_health *s);

#endif
