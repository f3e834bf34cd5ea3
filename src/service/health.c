/*
 * health.c - the health server: /healthz, /readyz and /metrics over
 * libmicrohttpd (health.h, docs/operations/health.md).
 *
 * Design notes
 *
 *  1. libmicrohttpd runs its own small thread pool (epoll, one listening
 *     socket on an IPv4 literal); every request is answered on one of those
 *     threads. Only /readyz may wait, and only for a bounded time (note 3),
 *     so /healthz and /metrics keep answering on the other threads.
 *  2. Each dependency has a worker thread of its own that sleeps until a
 *     check is wanted, runs fn without any lock, and stores the result. So
 *     a check that blocks far past its bound stalls only its own worker:
 *     no request thread ever calls fn. One check per dependency at a time.
 *
 *        idle --/readyz finds the result older than cache_ms--> running
 *        running --fn returns: result, done_ms stored, broadcast--> idle
 *
 *  3. /readyz (evaluate) under h->mu: mark stale idle dependencies running
 *     and wake their workers, then wait on h->cv while some dependency is
 *     running and its deadline (started_ms + timeout_ms + GRACE_MS) is
 *     still ahead. A dependency still running after that is reported
 *     failed ("check timed out"); the next /readyz does not start another
 *     check for it and does not wait for it.
 *  4. No new checks start in the states stopping and failed (the service
 *     may be tearing its dependencies down); the last results are shown.
 *  5. fxp_health_stop stops the daemon first (requests in progress finish,
 *     within note 3's bound), then tells the workers to quit and joins them,
 *     which waits for checks still inside fn: ud stays valid until then.
 *  6. libmicrohttpd's error messages go to a logger callback that keeps the
 *     last one under h->mu (the library never prints); start-up failures
 *     report it. mu is never held while calling into libmicrohttpd.
 */
#include "fxpipe/health.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "fxpipe/breaker.h"

#define GRACE_MS    50 /* what /readyz waits beyond a check's bound */
#define N_THREADS   4  /* libmicrohttpd's pool (note 1) */
#define MAX_CONNS   64
#define CONN_TO_S   10 /* idle connection timeout, seconds */
#define DETAIL_LEN  256
#define SERVICE_LEN 128
#define DEP_NAME    64

struct fxp_health;

struct dep {
    struct fxp_health *h;
    char name[DEP_NAME];
    bool critical;
    fxp_health_check_fn fn;
    void *ud;
    pthread_t thread;
    /* The rest is guarded by h->mu. */
    bool want;          /* the worker should start a check */
    bool running;       /* a check is wanted or inside fn */
    bool have;          /* err and detail hold a result */
    int64_t started_ms; /* when the running check was wanted */
    int64_t done_ms;    /* when the last result arrived */
    int timeout_ms;     /* bound of the running check */
    fxp_err err;
    char detail[DETAIL_LEN];
};

struct fxp_health {
    struct MHD_Daemon *d;
    uint16_t port;
    char service[SERVICE_LEN];
    _Atomic int state; /* fxp_health_state */
    struct fxp_metrics *m;
    pthread_mutex_t mu; /* the dependencies (note 3) */
    pthread_cond_t cv;  /* CLOCK_MONOTONIC; a check wanted or done, quit */
    bool quit;
    int timeout_ms, cache_ms;
    size_t n_deps;
    struct dep *deps[FXP_HEALTH_MAX_DEPS];
    char log[256]; /* libmicrohttpd's last message (note 6), under mu */
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *fxp_health_state_name(fxp_health_state s)
{
    static const char *const names[] = {"starting", "running", "stopping",
                                        "failed"};

    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

/* ---- Dependency workers (note 2) ---- */

static void *dep_main(void *arg)
{
    struct dep *d = arg;
    struct fxp_health *h = d->h;
    char detail[DETAIL_LEN];

    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!d->want && !h->quit)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->quit)
            break;
        d->want = false;
        int timeout_ms = d->timeout_ms;
        pthread_mutex_unlock(&h->mu);
        detail[0] = '\0';
        fxp_err err = d->fn(d->ud, timeout_ms, detail, sizeof detail);
        detail[sizeof detail - 1] = '\0';
        pthread_mutex_lock(&h->mu);
        d->err = err;
        if (err != FXP_OK && detail[0] == '\0')
            snprintf(d->detail, sizeof d->detail, "%s", fxp_strerror(err));
        else
            snprintf(d->detail, sizeof d->detail, "%s", detail);
        d->have = true;
        d->running = false;
        d->done_ms = mono_ms();
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* What /readyz reports for one dependency. */
struct dep_view {
    char name[DEP_NAME];
    bool critical, ok;
    char detail[DETAIL_LEN];
};

/* Run stale checks and wait for them within their bound (note 3); fill
 * v[0..*n). */
static void evaluate(struct fxp_health *h, struct dep_view *v, size_t *n)
{
    bool may_check = atomic_load(&h->state) <= FXP_HEALTH_RUNNING;
    bool woke = false;
    int64_t now;

    pthread_mutex_lock(&h->mu);
    now = mono_ms();
    for (size_t i = 0; may_check && i < h->n_deps; i++) {
        struct dep *d = h->deps[i];
        if (!d->running &&
            (!d->have || h->cache_ms == 0 || now - d->done_ms >= h->cache_ms)) {
            d->running = d->want = true;
            d->started_ms = now;
            d->timeout_ms = h->timeout_ms;
            woke = true;
        }
    }
    if (woke)
        pthread_cond_broadcast(&h->cv);
    for (;;) {
        int64_t until = 0;
        now = mono_ms();
        for (size_t i = 0; i < h->n_deps; i++) {
            struct dep *d = h->deps[i];
            int64_t dl = d->started_ms + d->timeout_ms + GRACE_MS;
            if (d->running && dl > now && dl > until)
                until = dl;
        }
        if (until == 0)
            break;
        struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                              .tv_nsec = (long)(until % 1000) * 1000000};
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
    *n = h->n_deps;
    for (size_t i = 0; i < h->n_deps; i++) {
        struct dep *d = h->deps[i];
        snprintf(v[i].name, sizeof v[i].name, "%s", d->name);
        v[i].critical = d->critical;
        if (d->running) {
            v[i].ok = false;
            snprintf(v[i].detail, sizeof v[i].detail,
                     "check timed out (no answer within %d ms)", d->timeout_ms);
        } else if (!d->have) {
            v[i].ok = false;
            snprintf(v[i].detail, sizeof v[i].detail, "not checked yet");
        } else {
            v[i].ok = d->err == FXP_OK;
            snprintf(v[i].detail, sizeof v[i].detail, "%s", d->detail);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

/* ---- Responses ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
                                  const char *body)
{
    return reply(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result serve_healthz(struct fxp_health *h,
                                     struct MHD_Connection *c)
{
    int s = atomic_load(&h->state);

    if (s == FXP_HEALTH_STOPPING)
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
    if (s == FXP_HEALTH_FAILED)
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "failed\n");
    return reply_text(c, MHD_HTTP_OK, "ok\n");
}

/* A JSON string, or a placeholder when s is not UTF-8. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);

    return j ? j : json_string("(not UTF-8)");
}

static enum MHD_Result serve_readyz(struct fxp_health *h,
                                    struct MHD_Connection *c)
{
    struct dep_view v[FXP_HEALTH_MAX_DEPS];
    size_t n = 0;
    int state = atomic_load(&h->state);
    bool crit_bad = false, any_bad = false, ready, json_bad = false;
    json_t *deps = json_object(), *root;
    char *body = NULL;
    enum MHD_Result ret;

    evaluate(h, v, &n);
    for (size_t i = 0; i < n; i++) {
        json_bad |=
            json_object_set_new(deps, v[i].name,
                                json_pack("{s:b,s:b,s:o}", "ok", (int)v[i].ok,
                                          "critical", (int)v[i].critical,
                                          "detail", jstr(v[i].detail))) != 0;
        any_bad |= !v[i].ok;
        crit_bad |= !v[i].ok && v[i].critical;
    }
    if (json_bad) {
        json_decref(deps);
        deps = NULL; /* json_pack below fails: a 500 */
    }
    ready = state == FXP_HEALTH_RUNNING && !crit_bad;
    root = json_pack("{s:s,s:o,s:s,s:o}", "status",
                     !ready    ? "not-ready"
                     : any_bad ? "degraded"
                               : "ready",
                     "service", jstr(h->service), "state",
                     fxp_health_state_name(state), "deps", deps);
    if (root)
        body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!body)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "cannot build the answer\n");
    ret = reply(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                "application/json", body, strlen(body));
    free(body);
    return ret;
}

static enum MHD_Result serve_metrics(struct fxp_health *h,
                                     struct MHD_Connection *c)
{
    char *text;
    size_t len;
    fxp_err err = fxp_metrics_render(h->m, &text, &len);
    enum MHD_Result ret;

    if (err != FXP_OK)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          err == FXP_ETOOLARGE ? "metrics too large\n"
                                               : "out of memory\n");
    ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                text, len);
    free(text);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_len, void **con_cls)
{
    struct fxp_health *h = cls;

    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "method not allowed\n");
    if (strcmp(url, "/healthz") == 0)
        return serve_healthz(h, c);
    if (strcmp(url, "/readyz") == 0)
        return serve_readyz(h, c);
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, c);
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_log(void *cls, const char *fmt, va_list ap)
{
    struct fxp_health *h = cls;

    pthread_mutex_lock(&h->mu);
    vsnprintf(h->log, sizeof h->log, fmt, ap);
    h->log[strcspn(h->log, "\n")] = '\0';
    pthread_mutex_unlock(&h->mu);
}

/* ---- Life cycle ---- */

/* "A.B.C.D:PORT" into sa; false when malformed. */
static bool parse_addr(const char *addr, struct sockaddr_in *sa)
{
    const char *colon = strrchr(addr, ':');
    char host[INET_ADDRSTRLEN];
    char *end;
    long port;

    memset(sa, 0, sizeof *sa);
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host)
        return false;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || port < 0 || port > 65535)
        return false;
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static void health_free(struct fxp_health *h)
{
    for (size_t i = 0; i < h->n_deps; i++)
        free(h->deps[i]);
    fxp_metrics_free(h->m);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static bool init_sync(struct fxp_health *h)
{
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;

    if (!ok)
        return false;
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&h->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (ok && pthread_mutex_init(&h->mu, NULL) != 0) {
        pthread_cond_destroy(&h->cv);
        ok = false;
    }
    return ok;
}

fxp_err fxp_health_start(const char *addr, const char *service_name,
                         struct fxp_health **out, char *errbuf, size_t errlen)
{
    struct sockaddr_in sa;
    struct fxp_health *h;
    const union MHD_DaemonInfo *info;

    *out = NULL;
    if (!addr)
        addr = "127.0.0.1:0";
    if (!parse_addr(addr, &sa)) {
        snprintf(errbuf, errlen, "invalid listen address '%s'", addr);
        return FXP_EINVAL;
    }
    if (!service_name || !*service_name ||
        strlen(service_name) >= SERVICE_LEN) {
        snprintf(errbuf, errlen, "invalid service name");
        return FXP_EINVAL;
    }
    h = calloc(1, sizeof *h);
    if (!h)
        return FXP_ENOMEM;
    if (!init_sync(h)) {
        free(h);
        return FXP_ENOMEM;
    }
    snprintf(h->service, sizeof h->service, "%s", service_name);
    atomic_init(&h->state, FXP_HEALTH_STARTING);
    h->timeout_ms = FXP_HEALTH_DEFAULT_TIMEOUT_MS;
    h->cache_ms = FXP_HEALTH_DEFAULT_CACHE_MS;
    h->m = fxp_metrics_new();
    if (!h->m) {
        health_free(h);
        return FXP_ENOMEM;
    }
    h->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)N_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TO_S,
        MHD_OPTION_EXTERNAL_LOGGER, on_log, h, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errbuf, errlen, "cannot listen on '%s': %s", addr,
                 h->log[0] ? h->log : "libmicrohttpd failed to start");
        health_free(h);
        return FXP_EIO;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : ntohs(sa.sin_port);
    *out = h;
    return FXP_OK;
}

uint16_t fxp_health_port(const struct fxp_health *h)
{
    return h->port;
}

void fxp_health_stop(struct fxp_health *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    pthread_mutex_lock(&h->mu);
    h->quit = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < h->n_deps; i++)
        pthread_join(h->deps[i]->thread, NULL);
    health_free(h);
}

void fxp_health_set_state(struct fxp_health *h, fxp_health_state s)
{
    if (!h)
        return; /* a service running without the health server */
    atomic_store(&h->state, (int)s);
}

fxp_health_state fxp_health_state_get(const struct fxp_health *h)
{
    return (fxp_health_state)atomic_load(&h->state);
}

fxp_err fxp_health_set_check_timing(struct fxp_health *h, int timeout_ms,
                                    int cache_ms)
{
    if (timeout_ms < 1 || timeout_ms > 60000 || cache_ms < 0 ||
        cache_ms > 3600000)
        return FXP_EINVAL;
    pthread_mutex_lock(&h->mu);
    h->timeout_ms = timeout_ms;
    h->cache_ms = cache_ms;
    pthread_mutex_unlock(&h->mu);
    return FXP_OK;
}

fxp_err fxp_health_add_dep(struct fxp_health *h, const char *name,
                           bool critical, fxp_health_check_fn fn, void *ud)
{
    struct dep *d;
    fxp_err err = FXP_OK;

    if (!name || !*name || strlen(name) >= DEP_NAME || !fn)
        return FXP_EINVAL;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n_deps; i++)
        if (strcmp(h->deps[i]->name, name) == 0)
            err = FXP_EEXIST;
    if (err == FXP_OK && h->n_deps == FXP_HEALTH_MAX_DEPS)
        err = FXP_ETOOLARGE;
    d = err == FXP_OK ? calloc(1, sizeof *d) : NULL;
    if (err == FXP_OK && !d)
        err = FXP_ENOMEM;
    if (err == FXP_OK) {
        d->h = h;
        snprintf(d->name, sizeof d->name, "%s", name);
        d->critical = critical;
        d->fn = fn;
        d->ud = ud;
        /* The worker blocks on h->mu until this function returns. */
        if (pthread_create(&d->thread, NULL, dep_main, d) != 0) {
            free(d);
            err = FXP_EIO;
        } else {
            h->deps[h->n_deps++] = d;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return err;
}

/* ---- The registry (its fxp_health_* shortcuts are in metrics.c) ---- */

struct fxp_metrics *fxp_health_metrics(struct fxp_health *h)
{
    return h->m;
}

/* ---- Circuit breakers ---- */

fxp_err fxp_health_breaker_check(void *br, int timeout_ms, char *detail,
                                 size_t detail_len)
{
    fxp_breaker_state s = fxp_breaker_state_get(br);

    (void)timeout_ms;
    snprintf(detail, detail_len, "breaker %s", fxp_breaker_state_name(s));
    return s == FXP_BREAKER_OPEN ? FXP_EUNAVAIL : FXP_OK;
}
