/*
 * health.h - the HTTP endpoints of an fxpipe service: /healthz (liveness),
 * /readyz (readiness from dependency checks) and /metrics (Prometheus text
 * exposition format 0.0.4 from a small registry of counters and gauges).
 * Only GET and HEAD on those three paths; no TLS, no auth, no push. The
 * registry also works without the server (fxp_metrics_*).
 */
#ifndef FXPIPE_HEALTH_H
#define FXPIPE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/err.h"

/* ---- Metrics registry ---------------------------------------------------
 *
 * A family is a metric name with one help text and one type (counter or
 * gauge); a series is the family plus a label set. Label sets are written
 * as in the exposition format without braces - `stage="ingest",sym="EURUSD"`
 * (values escaped with \\, \" and \n) - or NULL/"" for none; they are
 * stored sorted by label name, so the same set written in another order is
 * the same series. Handles stay valid until the registry (or the health
 * server owning it) is freed; their updates are lock-free and may come
 * from any thread. Registration and rendering take the registry's mutex. */

struct fxp_metrics;
struct fxp_counter; /* monotonically increasing uint64 */
struct fxp_gauge;   /* a double that goes up and down */

/* A gauge read on every scrape (queue depth, breaker state). Called with
 * the registry's mutex held: it must be quick and must not register
 * metrics. */
typedef double (*fxp_gauge_fn)(void *ud);

#define FXP_METRICS_MAX_SERIES 1024       /* series per registry */
#define FXP_METRICS_MAX_LABELS 16         /* label pairs per series */
#define FXP_METRICS_MAX_TEXT   (4u << 20) /* bytes of rendered text */

/* True when name matches [a-zA-Z_:][a-zA-Z0-9_:]*. */
bool fxp_metrics_name_valid(const char *name);

/* True when labels is NULL, "" or a well-formed label set (above) with
 * distinct names matching [a-zA-Z_][a-zA-Z0-9_]* and not starting "__". */
bool fxp_metrics_labels_valid(const char *labels);

/* A new empty registry; NULL when out of memory. */
struct fxp_metrics *fxp_metrics_new(void);
/* Free the registry and every handle it gave out; NULL is a no-op. No
 * other call on it may be in progress. */
void fxp_metrics_free(struct fxp_metrics *m);

/* The counter (name, labels), created at 0 on first use. Registering the
 * same name and label set again returns the same handle. NULL when the
 * name, help (required, any text) or labels are invalid, when the name is
 * already a gauge, when the registry is full or out of memory. A family's
 * help is the one given first. Any thread. */
struct fxp_counter *fxp_metrics_counter(struct fxp_metrics *m, const char *name,
                                        const char *help, const char *labels);

/* The gauge (name, labels), created at 0; same rules as counters. NULL also
 * when that series is a callback gauge. */
struct fxp_gauge *fxp_metrics_gauge(struct fxp_metrics *m, const char *name,
                                    const char *help, const char *labels);

/* A gauge whose value is fn(ud) at render time. FXP_EINVAL for a bad name,
 * help, labels or fn, or when name is a counter; FXP_EEXIST when the series
 * exists; FXP_ETOOLARGE when the registry is full; FXP_ENOMEM. ud must stay
 * valid until the registry is freed. */
fxp_err fxp_metrics_gauge_fn(struct fxp_metrics *m, const char *name,
                             const char *help, const char *labels,
                             fxp_gauge_fn fn, void *ud);

/* Render every family in registration order as text format 0.0.4:
 *   # HELP name help
 *   # TYPE name counter|gauge
 *   name{labels} value
 * into a new NUL-terminated buffer *out (caller frees) of *len bytes.
 * FXP_ETOOLARGE beyond FXP_METRICS_MAX_TEXT, FXP_ENOMEM; *out is NULL
 * then. Any thread. */
fxp_err fxp_metrics_render(struct fxp_metrics *m, char **out, size_t *len);

/* Updates: lock-free, any thread; a NULL handle is a no-op (reads give 0). */
void fxp_counter_inc(struct fxp_counter *c);
void fxp_counter_add(struct fxp_counter *c, uint64_t n);
uint64_t fxp_counter_get(const struct fxp_counter *c);
void fxp_gauge_set(struct fxp_gauge *g, double v);
void fxp_gauge_add(struct fxp_gauge *g, double delta);
double fxp_gauge_get(const struct fxp_gauge *g);

/* ---- Health server ------------------------------------------------------
 *
 * GET /healthz  200 "ok" while the server's threads answer; 503 "stopping"
 *               or "failed" once the service said so (fxp_health_set_state).
 * GET /readyz   JSON {"status":"ready|degraded|not-ready","service":"...",
 *               "state":"starting|running|stopping|failed","deps":{"store":
 *               {"ok":true,"critical":true,"detail":"..."},...}}: 200 ready
 *               when the state is running and every dependency is OK; 200
 *               degraded when only non-critical ones fail; 503 not-ready
 *               when a critical one fails or the state is not running.
 * GET /metrics  the registry (fxp_health_metrics), text format 0.0.4.
 * Other paths 404; methods other than GET and HEAD 405. */

struct fxp_health;

typedef enum fxp_health_state {
    FXP_HEALTH_STARTING = 0, /* initial: live, not ready */
    FXP_HEALTH_RUNNING = 1,  /* ready as far as the dependencies allow */
    FXP_HEALTH_STOPPING = 2, /* shutting down: not live, not ready */
    FXP_HEALTH_FAILED = 3    /* gave up: not live, not ready */
} fxp_health_state;

/* "starting", "running", "stopping", "failed". */
const char *fxp_health_state_name(fxp_health_state s);

/* A dependency check. Must return within about timeout_ms: FXP_OK when the
 * dependency works, an error otherwise, with a short human detail written
 * into detail (detail_len >= 1, may be left empty). It runs on a thread of
 * its own, never two at once for one dependency. */
typedef fxp_err (*fxp_health_check_fn)(void *ud, int timeout_ms, char *detail,
                                       size_t detail_len);

#define FXP_HEALTH_MAX_DEPS           32
#define FXP_HEALTH_DEFAULT_TIMEOUT_MS 500  /* bound of one check */
#define FXP_HEALTH_DEFAULT_CACHE_MS   1000 /* a result is reused this long */

/* Listen on addr, an IPv4 literal with a port ("127.0.0.1:9464"; port 0
 * picks a free one; NULL means "127.0.0.1:0"), and serve the endpoints from
 * a few threads of the server's own. service_name is copied (it is shown in
 * /readyz). The state starts as FXP_HEALTH_STARTING. On success *out is the
 * server and FXP_OK is returned; else FXP_EINVAL (bad addr or name),
 * FXP_EIO (cannot listen, errbuf says why) or FXP_ENOMEM, and *out is NULL. */
fxp_err fxp_health_start(const char *addr, const char *service_name,
                         struct fxp_health **out, char *errbuf, size_t errlen);

/* The port actually listened on. */
uint16_t fxp_health_port(const struct fxp_health *h);

/* Stop serving (a request in progress is finished first, within its
 * check bound), wait for dependency checks still running to return, and
 * free h with its registry and every metric handle. NULL is a no-op. */
void fxp_health_stop(struct fxp_health *h);

/* The service's own state; any thread, lock-free. NULL h is a no-op. */
void fxp_health_set_state(struct fxp_health *h, fxp_health_state s);
fxp_health_state fxp_health_state_get(const struct fxp_health *h);

/* Bound each check to timeout_ms (1..60000) and reuse a result for
 * cache_ms (0..3600000; 0 = check on every /readyz). Applies to checks
 * started afterwards. FXP_EINVAL when out of range. Any thread. */
fxp_err fxp_health_set_check_timing(struct fxp_health *h, int timeout_ms,
                                    int cache_ms);

/* Add a dependency checked on /readyz (name 1..63 bytes, copied). A check
 * runs only when its cached result is older than cache_ms; /readyz waits
 * for it at most the check bound (plus a little), and a check still
 * running past its bound counts as failed ("check timed out") without
 * delaying later requests. ud must stay valid until fxp_health_stop.
 * FXP_EINVAL, FXP_EEXIST (name taken), FXP_ETOOLARGE (more than
 * FXP_HEALTH_MAX_DEPS), FXP_ENOMEM, FXP_EIO (no thread). Any thread. */
fxp_err fxp_health_add_dep(struct fxp_health *h, const char *name,
                           bool critical, fxp_health_check_fn fn, void *ud);

/* The registry /metrics renders; owned by h. */
struct fxp_metrics *fxp_health_metrics(struct fxp_health *h);

/* fxp_metrics_counter/_gauge/_gauge_fn on fxp_health_metrics(h). */
struct fxp_counter *fxp_health_counter(struct fxp_health *h, const char *name,
                                       const char *help, const char *labels);
struct fxp_gauge *fxp_health_gauge(struct fxp_health *h, const char *name,
                                   const char *help, const char *labels);
fxp_err fxp_health_gauge_fn(struct fxp_health *h, const char *name,
                            const char *help, const char *labels,
                            fxp_gauge_fn fn, void *ud);

/* ---- Circuit breakers (breaker.h) as checks and gauges ------------------
 * Pass a struct fxp_breaker * as ud. */

/* A check: FXP_OK when the breaker is closed or half-open (detail names
 * the state), FXP_EUNAVAIL when open. */
fxp_err fxp_health_breaker_check(void *br, int timeout_ms, char *detail,
                                 size_t detail_len);
/* A gauge fn: the state as 0 closed, 1 open, 2 half-open. */
double fxp_health_breaker_value(void *br);

#endif
